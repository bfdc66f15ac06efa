import { inject, injectable } from 'tsyringe';
import { SessionConfigError, SessionError } from '../errors.js';
import { SEALED_PREFIX } from '../services/aes-gcm-cipher.js';
import { base64urlToText, textToBase64url } from '../services/base64url.js';
import { parseRecord } from '../services/json.js';
import { isPromise } from '../services/promise-like.js';
import { Tokens } from '../tokens.js';
import type { Cipher, CookieStrategyOptions, FlashSessionData, OpenedText, SessionData } from '../types.js';
import { BaseStrategy } from './base-strategy.js';

/** A payload decoded by {@link CookieSessionStrategy.decode}. */
export interface DecodedPayload {
  record: Record<string, unknown>;
  /**
   * The payload is not in the form this strategy writes now (sealed under an older secret, or
   * sealed while `encrypt` is off, or plain while it is on): the response writes it anew.
   */
  stale: boolean;
}

/**
 * Keeps the whole session in the signed cookie (the default strategy). Nothing is stored on the
 * server, so any number of servers sharing the secrets can serve a session.
 *
 * Its "ids" are values: `createData()` returns the data encoded for the cookie, and `readData()`
 * decodes it. There is no record to update or delete in place: every change writes a new cookie,
 * and two concurrent requests of one session are last-writer-wins.
 *
 * With `encrypt: true` the data is sealed by the {@link Cipher} (AES-256-GCM) before it goes into
 * the envelope, so the client cannot read it. Both forms are read whatever the option says, so
 * turning it on (or off) loses no session: a cookie in the other form is written anew.
 */
@injectable()
export class CookieSessionStrategy<Data = SessionData, FlashData = Data> extends BaseStrategy<Data, FlashData> {
  /** Tells the session engine that the data travels in the cookie. */
  readonly keepsDataInCookie = true;
  readonly #encrypt: boolean;
  readonly #cipher: Cipher | undefined;

  constructor(
    @inject(Tokens.StrategyOptions) options: CookieStrategyOptions = {},
    @inject(Tokens.Cipher) cipher?: Cipher
  ) {
    super();
    this.#encrypt = options?.encrypt === true;
    this.#cipher = cipher;
    if (this.#encrypt && !cipher) {
      throw new SessionConfigError('CookieSessionStrategy: `encrypt: true` needs a Cipher. Build it with handleSession() (which provides one), or pass new AesGcmCipher({ secrets, cookieName }) as the second argument.');
    }
  }

  async createData(data: FlashSessionData<Data, FlashData>): Promise<string> {
    const json = JSON.stringify(data);
    return this.#encrypt ? this.#cipher!.seal(json) : textToBase64url(json);
  }

  async readData(payload: string): Promise<FlashSessionData<Data, FlashData> | null> {
    const decoded = await this.decode(payload);
    return (decoded?.record ?? null) as FlashSessionData<Data, FlashData> | null;
  }

  /**
   * @internal `readData()` as the session engine calls it on the read path: at once for a plain
   * payload or with node:crypto, with a promise for Web Crypto. Also says whether the payload
   * must be written anew.
   */
  decode(payload: string): DecodedPayload | null | Promise<DecodedPayload | null> {
    if (!payload.startsWith(SEALED_PREFIX)) {
      const text = base64urlToText(payload);
      const record = text === null ? null : parseRecord(text);
      return record === null ? null : { record, stale: this.#encrypt };
    }
    if (!this.#cipher) return null;
    const opened = this.#cipher.open(payload);
    return isPromise(opened) ? opened.then((o) => this.#opened(o)) : this.#opened(opened);
  }

  #opened(opened: OpenedText | null): DecodedPayload | null {
    const record = opened === null ? null : parseRecord(opened.text);
    return record === null ? null : { record, stale: opened!.rotated || !this.#encrypt };
  }

  async updateData(): Promise<void> {
    throw new SessionError('SESSION_UNSUPPORTED', 'CookieSessionStrategy keeps no server-side records: a changed session is written anew with createData().');
  }

  /** Nothing is kept on the server; the engine expires the cookie. */
  async deleteData(): Promise<void> {}
}
