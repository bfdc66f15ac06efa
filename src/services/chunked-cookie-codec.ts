import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from '../config.js';
import { SessionError } from '../errors.js';
import { Tokens } from '../tokens.js';
import { SIGNATURE_LENGTH, SIGNATURE_PATTERN } from './hmac-signer.js';
import { isPromise } from './promise-like.js';
import type { CookieCodec, DecodedEnvelope, Envelope, OutgoingCookie, SignatureCheck, Signer } from '../types.js';

/**
 * Browsers drop a cookie whose name and value together exceed 4096 bytes (RFC 6265bis §5.6).
 * Every byte we write is ASCII, so characters are bytes.
 */
export const COOKIE_LIMIT = 4096;
/** The envelope format this codec writes and reads. */
export const ENVELOPE_VERSION = '1';
/** The most chunks we ever read: with 4 KB each, far past any server's header limit. */
const MAX_CHUNKS = 16;
const ID = /^[A-Za-z0-9_-]{1,128}$/;
const CHUNKED = /^~(\d{1,2})~/;
/**
 * The whole envelope in one pass: the version, id, created, expires, payload, then the signature
 * (in its one canonical spelling: the signer's SIGNATURE_PATTERN). Anything else is refused before
 * it costs an HMAC.
 */
const ENVELOPE = new RegExp(
  `^${ENVELOPE_VERSION}\\.([A-Za-z0-9_-]{1,128})\\.([0-9a-z]{1,9})\\.([0-9a-z]{1,9})\\.([A-Za-z0-9_-]*)\\.${SIGNATURE_PATTERN}$`
);

/** The default cap on all of a session's cookies (SessionConfig's `maxSize` default). */
const DEFAULT_CAP = 7168;

/** What piece `index` of `count` holds: a cookie's limit less its name (the first also carries `~N~`). */
const pieceCapacity = (name: string, index: number, count: number): number =>
  COOKIE_LIMIT - (index === 0 ? name.length + `~${count}~`.length : `${name}.${index}`.length);

/** How many characters of value `count` chunks hold (one cookie, without a marker, for 1). */
function capacityOf(name: string, count: number): number {
  if (count === 1) return COOKIE_LIMIT - name.length;
  let capacity = 0;
  for (let i = 0; i < count; i++) capacity += pieceCapacity(name, i, count);
  return capacity;
}

/** The envelope of a well-formed value (`match` of {@link ENVELOPE}), if its signature checked out. */
function envelopeOf(match: RegExpExecArray, check: SignatureCheck): DecodedEnvelope | null {
  if (check === 'invalid') return null;
  const [, id, created, expires, payload] = match;
  return {
    id,
    created: parseInt(created, 36) * 1000,
    expires: parseInt(expires, 36) * 1000,
    payload,
    stale: check === 'rotated'
  };
}

/**
 * The session cookie's wire format:
 *
 *     1.<id>.<created>.<expires>.<payload>.<signature>
 *
 * `created` and `expires` are epoch seconds in base 36; `payload` is base64url (the data itself
 * for the cookie strategy, empty for stores). The HMAC-SHA256 signature covers the cookie name
 * and everything before it, so a value cannot be moved to another cookie name, and the expiry
 * cannot be pushed back by the client.
 *
 * With chunking, a value too long for one cookie is cut into N pieces: the session cookie holds
 * `~N~` and the first piece, and `<name>.1` … `<name>.N-1` hold the rest, so a reader knows every
 * name it needs without scanning.
 */
@injectable()
export class ChunkedCookieCodec implements CookieCodec {
  readonly #name: string;
  readonly #chunk: boolean;
  readonly #maxSize: number;
  /** Chunk names this codec can have written: `<name>.1` … `<name>.<this - 1>` (see {@link names}). */
  readonly #maxChunks: number;

  constructor(
    @inject(Tokens.Config) config: Pick<SessionConfig, 'cookieName' | 'chunk' | 'maxSize'>,
    @inject(Tokens.Signer) private readonly signer: Signer
  ) {
    this.#name = config.cookieName;
    this.#chunk = config.chunk;
    this.#maxSize = config.maxSize;
    // The most chunks a value within the cap takes (at least the default cap's, so that chunks left
    // by an earlier chunked configuration are still expired).
    const cap = Math.max(config.maxSize, DEFAULT_CAP);
    let count = 1;
    while (count < MAX_CHUNKS && capacityOf(this.#name, count) < cap) count++;
    this.#maxChunks = count;
  }

  /** Synchronous when the signer is (node:crypto); a promise otherwise (Web Crypto). */
  read(cookies: Record<string, string | undefined>): DecodedEnvelope | null | Promise<DecodedEnvelope | null> {
    const main = cookies[this.#name];
    if (!main) return null;
    let value = main;
    const chunked = CHUNKED.exec(main);
    if (chunked) {
      const count = Number(chunked[1]);
      if (count < 2 || count > MAX_CHUNKS) return null;
      value = main.slice(chunked[0].length);
      for (let i = 1; i < count; i++) {
        const piece = cookies[`${this.#name}.${i}`];
        if (!piece) return null;
        value += piece;
        if (value.length > this.#maxSize) return null;
      }
    }
    return this.#decode(value);
  }

  #decode(value: string): DecodedEnvelope | null | Promise<DecodedEnvelope | null> {
    // Cheap shape checks first, so junk never costs an HMAC.
    if (value.length > this.#maxSize) return null;
    const match = ENVELOPE.exec(value);
    if (!match) return null;
    const cut = value.length - SIGNATURE_LENGTH;
    const check = this.signer.verify(`${this.#name}=${value.slice(0, cut - 1)}`, value.slice(cut));
    return isPromise(check) ? check.then((answer) => envelopeOf(match, answer)) : envelopeOf(match, check);
  }

  async write(envelope: Envelope): Promise<OutgoingCookie[]> {
    if (!ID.test(envelope.id)) {
      // Described, not quoted: an id is a secret of its store, and this message reaches logs.
      throw new SessionError('SESSION_UNSUPPORTED', `A session id of ${String(envelope.id).length} characters is not 1-128 characters of [A-Za-z0-9_-]; a store's createData() must return such an id.`);
    }
    const signed = [
      ENVELOPE_VERSION,
      envelope.id,
      Math.floor(envelope.created / 1000).toString(36),
      // Rounded up: a session lives its whole lifetime (a second more at most, never one less).
      Math.ceil(envelope.expires / 1000).toString(36),
      envelope.payload
    ].join('.');
    const value = `${signed}.${await this.signer.sign(`${this.#name}=${signed}`)}`;
    return this.#split(value);
  }

  /**
   * The session's cookie and the chunk names this codec could have written (not any `<name>.N` a
   * client sends: 100 junk names must not make every write answer with 100 expiring Set-Cookies).
   */
  names(cookies: Record<string, string | undefined>): string[] {
    const names: string[] = [];
    if (cookies[this.#name] !== undefined) names.push(this.#name);
    for (let i = 1; i < this.#maxChunks; i++) {
      if (cookies[`${this.#name}.${i}`] !== undefined) names.push(`${this.#name}.${i}`);
    }
    return names;
  }

  #split(value: string): OutgoingCookie[] {
    const name = this.#name;
    if (name.length + value.length <= COOKIE_LIMIT) return [{ name, value }];
    if (!this.#chunk) {
      throw new SessionError('SESSION_TOO_LARGE', `The session cookie would be ${name.length + value.length} bytes, over the ${COOKIE_LIMIT}-byte limit of one cookie, and browsers drop such cookies silently. Store less in the session, turn on chunking with adapter: { name: 'cookie', options: { chunk: true } }, or keep the data server-side with the 'memory' or 'redis' strategy.`);
    }
    const pieceFor = (index: number, count: number) => pieceCapacity(name, index, count);
    let count = 2;
    while (count <= MAX_CHUNKS && capacityOf(name, count) < value.length) count++;
    const cookies: OutgoingCookie[] = [];
    let offset = 0;
    for (let i = 0; i < count && offset < value.length; i++) {
      const piece = value.slice(offset, offset + pieceFor(i, count));
      offset += piece.length;
      cookies.push(i === 0 ? { name, value: `~${count}~${piece}` } : { name: `${name}.${i}`, value: piece });
    }
    // A short last piece can leave fewer cookies than planned; the marker must say how many.
    if (cookies.length !== count) {
      cookies[0] = { name, value: `~${cookies.length}~${cookies[0].value.slice(`~${count}~`.length)}` };
    }
    const total = cookies.reduce((sum, c) => sum + c.name.length + c.value.length, 0);
    if (count > MAX_CHUNKS || total > this.#maxSize) {
      throw new SessionError('SESSION_TOO_LARGE', `The session's cookies would take ${total} bytes, over the ${this.#maxSize}-byte cap (adapter option maxSize; servers refuse larger request headers: nginx 8 KiB, Node 16 KiB). Store less in the session, or keep the data server-side with the 'memory' or 'redis' strategy.`);
    }
    return cookies;
  }
}
