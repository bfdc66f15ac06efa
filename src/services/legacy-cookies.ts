import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from '../config.js';
import { Tokens } from '../tokens.js';
import type { SignatureCheck, Signer } from '../types.js';
import { base64urlToText } from './base64url.js';
import { parseRecord } from './json.js';
import { isPromise } from './promise-like.js';

/**
 * A value signed by 1.1.3: `base64(JSON)` `.` `base64(HMAC-SHA256(secret, base64(JSON)))`, both in
 * standard base64, the signature without its `=` padding (the cookie parser has already undone
 * the percent-encoding SvelteKit's `cookies.set` applied). The signature's last character is
 * canonical, as in ours.
 */
const SIGNED = /^([A-Za-z0-9+/]+={0,2})\.([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048])$/;
/** The ids 1.1.3's stores made (hex, base36) and a user's own store may have made. */
const ID = /^[A-Za-z0-9_-]{1,128}$/;
/** 1.1.3 chunked a cookie-strategy session into `<id>.0`, `<id>.1`, …; we read at most this many. */
const MAX_CHUNKS = 16;

const toBase64url = (base64: string) => base64.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** A 1.1.3 session found in a request: its id and, for 1.1.3's cookie strategy, its data cookies. */
export interface LegacySession {
  id: string;
  /** The record kept in 1.1.3's data cookies (cookie strategy), or `null` when there were none. */
  record: Record<string, unknown> | null;
  /** Names of 1.1.3's data cookies in the request: the response expires them. */
  dataCookies: string[];
}

/**
 * Reads sessions that `@svelte-dev/session` 1.1.3 wrote, so that an app upgrading keeps its users
 * signed in (SPEC §11). 1.1.3 kept, in the session cookie (`__sid` by default), a signed
 * `{"id":"…"}`; its cookie strategy kept the data in a second cookie named by that id (or in
 * `<id>.0`, `<id>.1`, … with `chunk: true`), signed the same way; its stores kept the record under
 * the id. Only values signed with one of the configured secrets are read (1.1.3 without secrets
 * wrote unsigned values: those are not trusted). The engine asks only when the session cookie is
 * not one of ours, so this costs nothing on the usual path.
 */
@injectable()
export class LegacyCookieReader {
  readonly #name: string;

  constructor(
    @inject(Tokens.Config) config: Pick<SessionConfig, 'cookieName'>,
    @inject(Tokens.Signer) private readonly signer: Signer
  ) {
    this.#name = config.cookieName;
  }

  /**
   * The 1.1.3 session of a request whose session cookie is not in our format, or `null`. Never
   * throws on client input. Synchronous with a signer that answers at once.
   */
  read(cookies: Record<string, string | undefined>): LegacySession | null | Promise<LegacySession | null> {
    const main = cookies[this.#name];
    if (!main || main.length > 4096) return null;
    const envelope = this.#unsign(main);
    const withId = (json: string | null): LegacySession | null | Promise<LegacySession | null> => {
      const id = json === null ? undefined : parseRecord(json)?.id;
      if (typeof id !== 'string' || !ID.test(id)) return null;
      return this.#dataOf(id, cookies);
    };
    return isPromise(envelope) ? envelope.then(withId) : withId(envelope);
  }

  /** The data cookies of a 1.1.3 cookie-strategy session `id`, joined and verified. */
  #dataOf(id: string, cookies: Record<string, string | undefined>): LegacySession | Promise<LegacySession> {
    const names: string[] = [];
    let value: string | undefined;
    if (cookies[id] !== undefined) {
      names.push(id);
      value = cookies[id];
    } else {
      for (let i = 0; i < MAX_CHUNKS && cookies[`${id}.${i}`] !== undefined; i++) {
        names.push(`${id}.${i}`);
        value = (value ?? '') + cookies[`${id}.${i}`];
      }
    }
    if (value === undefined || value.length > MAX_CHUNKS * 4096) return { id, record: null, dataCookies: names };
    const json = this.#unsign(value);
    const session = (text: string | null): LegacySession => ({ id, record: text === null ? null : parseRecord(text), dataCookies: names });
    return isPromise(json) ? json.then(session) : session(json);
  }

  /** The JSON text inside a 1.1.3 signed value, or `null` unless a configured secret signed it. */
  #unsign(value: string): string | null | Promise<string | null> {
    const match = SIGNED.exec(value);
    if (!match) return null;
    const [, data, signature] = match;
    const check = this.signer.verify(data, toBase64url(signature));
    const text = (answer: SignatureCheck) => (answer === 'invalid' ? null : base64urlToText(toBase64url(data)));
    return isPromise(check) ? check.then(text) : text(check);
  }
}
