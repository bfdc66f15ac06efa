import type { RequestEvent } from '@sveltejs/kit';
import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from './config.js';
import { SetCookieWriter } from './services/set-cookie.js';
import { sanitizeRecord } from './services/json.js';
import { callStore, SessionStorage, type SessionRuntime } from './session.js';
import type { BaseStrategy } from './strategies/base-strategy.js';
import { Tokens } from './tokens.js';
import type { Clock, CookieCodec, IdGenerator, StrategyContext } from './types.js';

/**
 * Opens the session of each request. Built once per `handleSession()` call from the container;
 * per request it only parses, verifies and (for stores) reads.
 */
@injectable()
export class SessionEngine {
  readonly #runtime: SessionRuntime;
  readonly #writers: { secure: SetCookieWriter; insecure: SetCookieWriter };
  readonly #secure: boolean | undefined;

  constructor(
    @inject(Tokens.Config) config: SessionConfig,
    @inject(Tokens.Strategy) strategy: BaseStrategy<any, any>,
    @inject(Tokens.CookieCodec) codec: CookieCodec,
    @inject(Tokens.Clock) clock: Clock,
    @inject(Tokens.IdGenerator) ids: IdGenerator
  ) {
    this.#runtime = {
      config,
      strategy,
      codec,
      clock,
      ids,
      inCookie: (strategy as { keepsDataInCookie?: boolean }).keepsDataInCookie === true
    };
    this.#writers = {
      secure: new SetCookieWriter(config.attributes.secure),
      insecure: new SetCookieWriter(config.attributes.insecure)
    };
    this.#secure = config.secureExplicit ? !!config.attributes.secure.secure : undefined;
  }

  /**
   * The Set-Cookie writer for a request. Unless the user fixed `secure`, it follows SvelteKit's
   * rule: cookies are `Secure` except on `http://localhost`, where browsers would drop them.
   */
  writer(url: URL): SetCookieWriter {
    const secure = this.#secure ?? !(url.hostname === 'localhost' && url.protocol === 'http:');
    return this.#writers[secure ? 'secure' : 'insecure'];
  }

  /**
   * The request's session: synchronously for a visitor without a session cookie (no cryptography,
   * no store call, no promise). A bad, expired or unknown cookie gives a fresh session; only a failing store throws
   * (a `SessionStoreError`).
   */
  open(event: RequestEvent, cookies: Record<string, string | undefined>): SessionStorage | Promise<SessionStorage> {
    const context = { event };
    if (cookies[this.#runtime.config.cookieName] === undefined) return new SessionStorage(this.#runtime, context, []);
    return this.#read(context, cookies);
  }

  async #read(context: StrategyContext, cookies: Record<string, string | undefined>): Promise<SessionStorage> {
    const runtime = this.#runtime;
    const names = runtime.codec.names(cookies);
    const envelope = await runtime.codec.read(cookies);
    const now = runtime.clock.now();
    const { absoluteTimeout } = runtime.config;
    if (
      !envelope ||
      envelope.expires <= now ||
      (absoluteTimeout !== undefined && envelope.created + absoluteTimeout <= now)
    ) {
      return new SessionStorage(runtime, context, names);
    }

    const record = runtime.inCookie
      ? await runtime.strategy.readData(envelope.payload, context)
      : await callStore('read a session', async () => {
          const found = await runtime.strategy.readData(envelope.id, context);
          if (found !== null && (typeof found !== 'object' || Array.isArray(found))) {
            throw new TypeError(`readData() returned ${Array.isArray(found) ? 'an array' : typeof found}, not an object or null`);
          }
          return found;
        });
    // An id the store does not know is never adopted: the next write mints a new one.
    const safe = record === null ? null : runtime.inCookie ? record : sanitizeRecord(record);
    if (safe === null) return new SessionStorage(runtime, context, names);
    return new SessionStorage(runtime, context, names, {
      id: envelope.id,
      created: envelope.created,
      expires: envelope.expires,
      payload: envelope.payload,
      record: safe,
      stale: envelope.stale
    });
  }
}
