import { injectable } from 'tsyringe';
import { SessionError } from '../errors.js';
import { base64urlToText, textToBase64url } from '../services/base64url.js';
import { parseRecord } from '../services/json.js';
import type { FlashSessionData, SessionData } from '../types.js';
import { BaseStrategy } from './base-strategy.js';

/**
 * Keeps the whole session in the signed cookie (the default strategy). Nothing is stored on the
 * server, so any number of servers sharing the secrets can serve a session.
 *
 * Its "ids" are values: `createData()` returns the data encoded for the cookie, and `readData()`
 * decodes it. There is no record to update or delete in place: every change writes a new cookie,
 * and two concurrent requests of one session are last-writer-wins.
 */
@injectable()
export class CookieSessionStrategy<Data = SessionData, FlashData = Data> extends BaseStrategy<Data, FlashData> {
  /** Tells the session engine that the data travels in the cookie. */
  readonly keepsDataInCookie = true;

  async createData(data: FlashSessionData<Data, FlashData>): Promise<string> {
    return textToBase64url(JSON.stringify(data));
  }

  async readData(payload: string): Promise<FlashSessionData<Data, FlashData> | null> {
    return this.decode(payload) as FlashSessionData<Data, FlashData> | null;
  }

  /** `readData()` without a promise: the session engine calls this on the read path. */
  decode(payload: string): Record<string, unknown> | null {
    const text = base64urlToText(payload);
    return text === null ? null : parseRecord(text);
  }

  async updateData(): Promise<void> {
    throw new SessionError('SESSION_UNSUPPORTED', 'CookieSessionStrategy keeps no server-side records: a changed session is written anew with createData().');
  }

  /** Nothing is kept on the server; the engine expires the cookie. */
  async deleteData(): Promise<void> {}
}
