/** What GET /inspect answers: the demo's panel (see lib/server/inspect.ts). Types only. */

export type StrategyName = 'cookie' | 'memory' | 'redis';

export interface ResponseRecord {
  method: string;
  path: string;
  /** A client-side navigation's (or a form's) data request (`__data.json`), not a page. */
  data: boolean;
  status: number;
  /** When, in epoch ms. */
  at: number;
  strategy: StrategyName;
  /** The response's Set-Cookie lines for the session's cookies (__sid, __sid.1, ...). */
  setCookie: string[];
}

export interface CookieSeen {
  name: string;
  value: string;
  /** Name and value: what counts against the browser's 4096 bytes. */
  bytes: number;
}

export interface EnvelopeSeen {
  /** How many cookies the value was cut into (1: not chunked). */
  chunks: number;
  version: string;
  id: string;
  /** Epoch ms. */
  created: number;
  expires: number;
  expired: boolean;
  /** The payload as sent (base64url), its length, and what it decodes to. */
  payload: string;
  data: unknown;
  signature: string;
  /** What the library's codec says: valid, signed with an older secret, or refused. */
  check: 'valid' | 'old secret' | 'invalid';
}

export interface Inspection {
  strategy: StrategyName;
  dataInCookie: boolean;
  /** The session's cookies the browser sent with this request. */
  cookies: CookieSeen[];
  totalBytes: number;
  cookieLimit: number;
  /** The cap on all of them together, for a strategy that chunks. */
  maxSize: number | undefined;
  /** Decoded, when the cookies have the envelope's shape. */
  envelope: EnvelopeSeen | null;
  /** Why there is no envelope, or what is wrong with it. */
  problem: string | null;
  /** The last response this browser got (other than from /inspect). */
  last: ResponseRecord | null;
  /** The last one that sent Set-Cookie for the session (a read, or a form's data reload, sends none). */
  lastWithCookie: ResponseRecord | null;
}

