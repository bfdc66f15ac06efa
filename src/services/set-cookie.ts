import { serialize } from 'cookie';
import type { CookieOptions } from '../types.js';

/** One cookie a response must set. `maxAge` 0 expires it; no `maxAge` makes a browser-session cookie. */
export interface PendingCookie {
  name: string;
  value: string;
  /** Seconds. */
  maxAge?: number;
  expires?: Date;
}

/**
 * Set-Cookie header values for the session's cookies. The attributes other than the lifetime are
 * fixed per `handleSession()` call, so they are serialized once (by the `cookie` package, which
 * validates them) and only the lifetime is added per response.
 */
export class SetCookieWriter {
  readonly #attributes: CookieOptions;
  readonly #suffix: string;
  /** The last Expires written: responses within one second share it. */
  #expiresAt = NaN;
  #expiresText = '';

  constructor(attributes: CookieOptions) {
    this.#attributes = { ...attributes };
    this.#suffix = serialize('x', '', { ...attributes, encode: (value: string) => value }).slice('x='.length);
  }

  /** The Set-Cookie header value. */
  header(cookie: PendingCookie): string {
    const lifetime =
      cookie.maxAge === undefined ? '' : `; Max-Age=${cookie.maxAge}; Expires=${this.#httpDate(cookie.expires)}`;
    return `${cookie.name}=${cookie.value}${lifetime}${this.#suffix}`;
  }

  #httpDate(date: Date | undefined): string | undefined {
    if (date === undefined) return undefined;
    const at = date.getTime();
    if (at !== this.#expiresAt) {
      this.#expiresAt = at;
      this.#expiresText = date.toUTCString();
    }
    return this.#expiresText;
  }

  /** The same cookie as options for SvelteKit's `event.cookies.set()`. */
  options(cookie: PendingCookie): CookieOptions & { path: string; encode: (value: string) => string } {
    return {
      ...this.#attributes,
      maxAge: cookie.maxAge,
      expires: cookie.expires,
      path: this.#attributes.path ?? '/',
      // Our values are already cookie-safe (base64url and . ~ -): written as they are.
      encode: (value: string) => value
    };
  }
}
