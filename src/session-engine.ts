import type { RequestEvent } from '@sveltejs/kit';
import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from './config.js';
import { SetCookieWriter } from './services/set-cookie.js';
import { sanitizeRecord } from './services/json.js';
import { callStore, SessionStorage, type SessionRuntime } from './session.js';
import type { BaseStrategy } from './strategies/base-strategy.js';
import { Tokens } from './tokens.js';
import { isPromise } from './services/promise-like.js';
import { CookieSessionStrategy } from './strategies/cookie-session-strategy.js';
import { MemoryStrategy } from './strategies/memory-strategy.js';
import type { Clock, CookieCodec, DecodedEnvelope, IdGenerator, StrategyContext } from './types.js';

/**
 * Opens the session of each request. Built once per `handleSession()` call from the container;
 * per request it only parses, verifies and (for stores) reads.
 */
@injectable()
export class SessionEngine {
  readonly #runtime: SessionRuntime;
  readonly #writers: { secure: SetCookieWriter; insecure: SetCookieWriter };
  readonly #secure: boolean | undefined;
  /** The record of an envelope without a promise, for the built-in strategies that can. */
  readonly #readNow: SynchronousReader | undefined;

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
    this.#readNow = synchronousReader(strategy);
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
   * no store call, no promise), and for the cookie strategy and the memory store with node:crypto
   * (or any signer whose verify answers at once, such as a remembered signature). A bad, expired or
   * unknown cookie gives a fresh session; only a failing store throws (a `SessionStoreError`).
   */
  open(event: RequestEvent, cookies: Record<string, string | undefined>): SessionStorage | Promise<SessionStorage> {
    const runtime = this.#runtime;
    const context = { event };
    if (cookies[runtime.config.cookieName] === undefined) return new SessionStorage(runtime, context, []);
    const names = runtime.codec.names(cookies);
    const envelope = runtime.codec.read(cookies);
    return isPromise(envelope)
      ? envelope.then((decoded) => this.#load(context, names, decoded))
      : this.#load(context, names, envelope);
  }

  /**
   * The session of a decoded envelope: a fresh one for an expired or unknown session. The built-in
   * cookie strategy and memory store answer synchronously (no promise at all).
   */
  #load(context: StrategyContext, names: string[], envelope: DecodedEnvelope | null): SessionStorage | Promise<SessionStorage> {
    const runtime = this.#runtime;
    const now = runtime.clock.now();
    const { absoluteTimeout } = runtime.config;
    if (
      !envelope ||
      envelope.expires <= now ||
      (absoluteTimeout !== undefined && envelope.created + absoluteTimeout <= now)
    ) {
      return new SessionStorage(runtime, context, names);
    }
    if (this.#readNow) return this.#adopt(context, names, envelope, this.#readNow(envelope));
    if (runtime.inCookie) {
      return runtime.strategy.readData(envelope.payload, context).then((record) => this.#adopt(context, names, envelope, record));
    }
    return callStore('read a session', async () => {
      const found = await runtime.strategy.readData(envelope.id, context);
      if (found !== null && (typeof found !== 'object' || Array.isArray(found))) {
        throw new TypeError(`readData() returned ${Array.isArray(found) ? 'an array' : typeof found}, not an object or null`);
      }
      return found;
    }).then((found) => this.#adopt(context, names, envelope, found === null ? null : sanitizeRecord(found)));
  }

  /** An id (or payload) that gave no record is never adopted: the next write mints a new one. */
  #adopt(context: StrategyContext, names: string[], envelope: DecodedEnvelope, record: Record<string, unknown> | null): SessionStorage {
    if (record === null) return new SessionStorage(this.#runtime, context, names);
    return new SessionStorage(this.#runtime, context, names, {
      id: envelope.id,
      created: envelope.created,
      expires: envelope.expires,
      payload: envelope.payload,
      record,
      stale: envelope.stale
    });
  }
}

/**
 * How the built-in cookie strategy (decoding the payload) and memory store (reading the id) give
 * a record without a promise; `undefined` for any other store, and for a subclass that overrides
 * `readData()`, which is then called through it.
 */
type SynchronousReader = (envelope: DecodedEnvelope) => Record<string, unknown> | null;
function synchronousReader(strategy: BaseStrategy<any, any>): SynchronousReader | undefined {
  if (strategy instanceof CookieSessionStrategy && strategy.readData === CookieSessionStrategy.prototype.readData) {
    return (envelope) => strategy.decode(envelope.payload);
  }
  if (strategy instanceof MemoryStrategy && strategy.readData === MemoryStrategy.prototype.readData) {
    return (envelope) => strategy.read(envelope.id);
  }
  return undefined;
}
