import type { RequestEvent } from '@sveltejs/kit';
import { inject, injectable } from 'tsyringe';
import { SetCookieWriter } from './services/set-cookie.js';
import { sanitizeRecord } from './services/json.js';
import { SessionConfigError } from './errors.js';
import { warnOnce, type SessionConfig } from './config.js';
import { callStore, SessionStorage, userOf, type SessionRuntime } from './session.js';
import type { BaseStrategy } from './strategies/base-strategy.js';
import { Tokens } from './tokens.js';
import { isPromise } from './services/promise-like.js';
import { LegacyCookieReader, type LegacySession } from './services/legacy-cookies.js';
import { CookieSessionStrategy, type DecodedPayload } from './strategies/cookie-session-strategy.js';
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
  /** The record of an envelope without `readData()`, for the built-in strategies that can. */
  readonly #readNow: DirectReader | undefined;
  readonly #legacy: LegacyCookieReader;

  constructor(
    @inject(Tokens.Config) config: SessionConfig,
    @inject(Tokens.Strategy) strategy: BaseStrategy<any, any>,
    @inject(Tokens.CookieCodec) codec: CookieCodec,
    @inject(Tokens.Clock) clock: Clock,
    @inject(Tokens.IdGenerator) ids: IdGenerator,
    @inject(LegacyCookieReader) legacy: LegacyCookieReader
  ) {
    this.#legacy = legacy;
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
    this.#readNow = directReader(strategy);
    if (config.userId && (typeof strategy.addUserSession !== 'function' || typeof strategy.takeUserSessions !== 'function')) {
      throw new SessionConfigError(`handleSession(): \`session.userId\` needs a store that indexes sessions by user: 'memory' and 'redis' do, and so does your own store with addUserSession() and takeUserSessions(). ${runtimeName(strategy)} does not. With the cookie strategy or Workers KV, end a user's sessions with session.validate and a per-user epoch (README: "Revoking sessions").`);
    }
  }

  /**
   * Ends every session of `user` the store indexed: each record that still names that user is
   * deleted (one whose data now names another user is left alone). Resolves to how many ended.
   */
  async destroyUserSessions(user: string | number): Promise<number> {
    const { config, strategy } = this.#runtime;
    if (!config.userId) {
      throw new SessionConfigError("destroyUserSessions() needs `session.userId` in handleSession()'s options, for example userId: (data) => data.userId, so that sessions are indexed by user as they log in.");
    }
    const name = String(user);
    const ids = await callStore("list a user's sessions", () => strategy.takeUserSessions!(name));
    let ended = 0;
    for (const id of new Set(ids)) {
      // sanitizeRecord gives null for anything but a plain object (an unknown id's null included).
      const record = sanitizeRecord(await callStore('read a session', () => strategy.readData(id)));
      if (record === null || userOf(config, record) !== name) continue;
      await callStore('delete a session', () => strategy.deleteData(id));
      ended++;
    }
    return ended;
  }

  /**
   * The Set-Cookie writer for a request. Unless the user fixed `secure` (or the cookie's name or
   * SameSite=None needs it), cookies are `Secure` except on plain-http loopback hosts: SvelteKit's
   * own rule is `secure: !(hostname === 'localhost' && protocol === 'http:')`
   * (kit/src/runtime/server/cookie.js); we extend it to 127.0.0.1 and [::1], where WebKit drops a
   * Secure cookie as it does on localhost, so that `http://127.0.0.1:5173` works in every browser.
   * A Secure cookie sent to a plain-http loopback host gets one warning.
   */
  writer(url: URL): SetCookieWriter {
    const loopbackHttp = url.protocol === 'http:' && isLoopback(url.hostname);
    const secure = this.#secure ?? !loopbackHttp;
    if (secure && loopbackHttp) {
      warnOnce(`The session cookie is sent with Secure to ${url.origin}, over plain http (${this.#runtime.config.forcedSecure ?? 'cookie.secure is true'}). Chromium and Firefox keep Secure cookies from http://localhost, but WebKit browsers (Safari, and Epiphany/GNOME Web) drop them, so the session will not stick there. In development, serve the app over https:// (for example vite dev with a local certificate), or use a cookie name without __Host-/__Secure-, sameSite 'lax' and no secure: true there (the cookie is then Secure everywhere but plain-http localhost).`);
    }
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
      ? envelope.then((decoded) => this.#load(context, names, decoded, cookies))
      : this.#load(context, names, envelope, cookies);
  }

  /**
   * The session of a decoded envelope: a fresh one for an expired or unknown session. The built-in
   * cookie strategy and memory store answer synchronously (no promise at all).
   */
  #load(
    context: StrategyContext,
    names: string[],
    envelope: DecodedEnvelope | null,
    cookies: Record<string, string | undefined>
  ): SessionStorage | Promise<SessionStorage> {
    const runtime = this.#runtime;
    const now = runtime.clock.now();
    const { absoluteTimeout } = runtime.config;
    let opened: SessionStorage | Promise<SessionStorage>;
    if (!envelope) {
      // Not one of ours: perhaps a session 1.1.3 wrote (only asked here, off the usual path).
      const legacy = this.#legacy.read(cookies);
      opened = isPromise(legacy) ? legacy.then((found) => this.#migrate(context, names, found)) : this.#migrate(context, names, legacy);
    } else if (envelope.expires <= now || (absoluteTimeout !== undefined && envelope.created + absoluteTimeout <= now)) {
      return new SessionStorage(runtime, context, names);
    } else {
      opened = this.#read(context, names, envelope);
    }
    if (!runtime.config.validate) return opened;
    return isPromise(opened) ? opened.then((session) => this.#validate(session, context)) : this.#validate(opened, context);
  }

  /**
   * `session.validate`: a session the app refuses is destroyed (its cookie expired and its record
   * deleted when the request ends) and the request goes on with a fresh one.
   */
  async #validate(session: SessionStorage, context: StrategyContext): Promise<SessionStorage> {
    if (session.id === '' && !session.migrating) return session;
    if ((await this.#runtime.config.validate!(session.toValidate(), context.event)) !== true) await session.destroy();
    return session;
  }

  #read(context: StrategyContext, names: string[], envelope: DecodedEnvelope): SessionStorage | Promise<SessionStorage> {
    const runtime = this.#runtime;
    if (this.#readNow) {
      const read = this.#readNow(envelope);
      return isPromise(read) ? read.then((r) => this.#adopt(context, names, envelope, r)) : this.#adopt(context, names, envelope, read);
    }
    if (runtime.inCookie) {
      return runtime.strategy.readData(envelope.payload, context).then((record) => this.#adopt(context, names, envelope, fresh(record as Record<string, unknown> | null)));
    }
    return this.#readRecord(envelope.id, context, false).then((record) => this.#adopt(context, names, envelope, fresh(record)));
  }

  /** A store's record of `id` (1.1.3's place for it with `legacy`), checked and sanitized; `null` when unknown. */
  #readRecord(id: string, context: StrategyContext, legacy: boolean): Promise<Record<string, unknown> | null> {
    const { strategy } = this.#runtime;
    const read = legacy && strategy.readLegacyData ? strategy.readLegacyData : strategy.readData;
    return callStore('read a session', async () => {
      const found = await read.call(strategy, id, context);
      if (found !== null && (typeof found !== 'object' || Array.isArray(found))) {
        throw new TypeError(`readData() returned ${Array.isArray(found) ? 'an array' : typeof found}, not an object or null`);
      }
      return found === null ? null : sanitizeRecord(found);
    });
  }

  /**
   * A session 1.1.3 wrote (SPEC §11): its data is kept and written anew, in the current format and
   * under a new id, when the request ends; its old cookies are expired and a store's old record is
   * deleted. `found` is `null` for a cookie that is neither ours nor 1.1.3's: a fresh session.
   */
  #migrate(context: StrategyContext, names: string[], found: LegacySession | null): SessionStorage | Promise<SessionStorage> {
    const runtime = this.#runtime;
    if (!found) return new SessionStorage(runtime, context, names);
    const cookieNames = [...names, ...found.dataCookies];
    const adopt = (record: Record<string, unknown> | null) => {
      if (record === null) return new SessionStorage(runtime, context, cookieNames);
      const now = runtime.clock.now();
      return new SessionStorage(runtime, context, cookieNames, {
        id: '',
        created: now,
        expires: runtime.config.expiryAt(now, now),
        payload: '',
        record,
        stale: true,
        migratedFrom: found.id
      });
    };
    if (runtime.inCookie) return adopt(found.record === null ? null : sanitizeRecord(found.record));
    return this.#readRecord(found.id, context, true).then(adopt);
  }

  /**
   * An id (or payload) that gave no record is never adopted: the next write mints a new one. A
   * record read with `stale` (a cookie payload in an outdated form) is written anew, like a cookie
   * signed with an older secret.
   */
  #adopt(
    context: StrategyContext,
    names: string[],
    envelope: DecodedEnvelope,
    read: DecodedPayload | null
  ): SessionStorage {
    if (read === null) return new SessionStorage(this.#runtime, context, names);
    return new SessionStorage(this.#runtime, context, names, {
      id: envelope.id,
      created: envelope.created,
      expires: envelope.expires,
      payload: envelope.payload,
      record: read.record,
      stale: envelope.stale || read.stale
    });
  }
}

/** A strategy's class name, for messages. */
const runtimeName = (strategy: object): string => strategy.constructor?.name || 'This store';

/** A record read in the form it is kept in now. */
const fresh = (record: Record<string, unknown> | null): DecodedPayload | null => (record === null ? null : { record, stale: false });

/**
 * How the built-in cookie strategy (decoding the payload: at once, or with a promise when it
 * opens a sealed payload with Web Crypto) and memory store (reading the id, at once) give a
 * record without calling `readData()`; `undefined` for any other store, and for a subclass that
 * overrides `readData()`, which is then called through it.
 */
type DirectReader = (envelope: DecodedEnvelope) => DecodedPayload | null | Promise<DecodedPayload | null>;
function directReader(strategy: BaseStrategy<any, any>): DirectReader | undefined {
  if (strategy instanceof CookieSessionStrategy && strategy.readData === CookieSessionStrategy.prototype.readData) {
    return (envelope) => strategy.decode(envelope.payload);
  }
  if (strategy instanceof MemoryStrategy && strategy.readData === MemoryStrategy.prototype.readData) {
    return (envelope) => fresh(strategy.read(envelope.id));
  }
  return undefined;
}

/** Hosts that only this machine reaches: `localhost` (and `*.localhost`), 127.0.0.0/8 and ::1. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}
