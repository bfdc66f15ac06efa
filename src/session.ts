import { SessionError, SessionStoreError } from './errors.js';
import { isForbiddenKey, sanitizeRecord, toJsonValue } from './services/json.js';
import type { PendingCookie } from './services/set-cookie.js';
import { MAX_AGE_LIMIT_SECONDS, warnOnce, type SessionConfig } from './config.js';
import { applyChanges as applyTo } from './strategies/apply-changes.js';
import type { BaseStrategy } from './strategies/base-strategy.js';
import type {
  Clock,
  CookieCodec,
  FlashDataKey,
  IdGenerator,
  SessionData,
  SessionToValidate,
  StrategyContext
} from './types.js';

/** What a session needs from its `handleSession()` call; built once, shared by every request. */
export interface SessionRuntime {
  config: SessionConfig;
  strategy: BaseStrategy<any, any>;
  codec: CookieCodec;
  clock: Clock;
  ids: IdGenerator;
  /** The data travels in the cookie (cookie strategy) rather than in a store. */
  inCookie: boolean;
}

/** The state read from a request's cookie. */
export interface LoadedSession {
  id: string;
  created: number;
  expires: number;
  record: Record<string, unknown>;
  /** The cookie strategy's payload as it came, reusable when only the expiry changes. */
  payload: string;
  /** Signed with an older secret, or (cookie strategy) a payload in an outdated form: write it anew. */
  stale: boolean;
  /**
   * A session 1.1.3 wrote, under this id (`LegacyCookieReader`): it is written anew under a new id
   * when the request ends, and a store's old record is deleted.
   */
  migratedFrom?: string;
}

const flashKey = <K extends string>(key: K): FlashDataKey<K> => `__flash_${key}__`;
const FLASH = /^__flash_(.*)__$/;

/** Runs a store call; a failure becomes a {@link SessionStoreError} with the store's error as `cause`. */
export async function callStore<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof SessionError) throw error;
    throw new SessionStoreError(`The session store failed to ${what}: ${(error as Error)?.message ?? error}`, { cause: error });
  }
}

/**
 * The session of one request: `event.locals.session`.
 *
 * Reads are synchronous. Changes are collected and reach the store once, when the request ends
 * (or at `save()`), as a set of changed keys, so that stores able to merge atomically keep the
 * changes of concurrent requests.
 *
 * @example
 * ```ts
 * export const load = async ({ locals }) => {
 *   const views = (locals.session.get('views') ?? 0) + 1;
 *   await locals.session.set('views', views);
 *   return { views };
 * };
 * ```
 *
 * @typeParam CustomStrategyOptions 1.1.3's third type parameter (the options of a store of your
 * own): kept, unused, so that code naming `SessionStorage<Data, FlashData, Options>` still compiles.
 */
export class SessionStorage<Data extends SessionData = SessionData, FlashData = Data, CustomStrategyOptions = any> {
  readonly #runtime: SessionRuntime;
  readonly #context: StrategyContext;
  /** Every session cookie the request carried (main and chunks), to expire leftovers. */
  readonly #requestCookieNames: string[];
  #id: string;
  #created: number;
  #expires: number;
  #payload: string;
  #stale: boolean;
  /** The record as loaded (or as last saved). */
  #record: Record<string, unknown>;
  /** Pending changes by record key; `undefined` removes. */
  readonly #changes = new Map<string, unknown>();
  /** Flash keys read by this request: deleted when the request ends. */
  readonly #consumed = new Set<string>();
  /** An id whose record must be deleted (after `destroy()` or `regenerate()`). */
  #discard: string | undefined;
  #regenerate = false;
  /** The id of a 1.1.3 session being moved to the current format (see {@link LoadedSession}). */
  #migratedFrom: string | undefined;
  /** The cookies of the last write; the response carries the newest. */
  #outgoing: PendingCookie[] = [];
  /** A value was looked up (`get`, `has`, `data`): see {@link readValues}. */
  #looked = false;

  /** @internal Built by `handleSession`; not for user code. */
  constructor(runtime: SessionRuntime, context: StrategyContext, requestCookieNames: string[], loaded?: LoadedSession) {
    this.#runtime = runtime;
    this.#context = context;
    this.#requestCookieNames = requestCookieNames;
    this.#id = loaded?.id ?? '';
    this.#created = loaded?.created ?? 0;
    this.#expires = loaded?.expires ?? 0;
    this.#payload = loaded?.payload ?? '';
    this.#stale = loaded?.stale ?? false;
    this.#record = loaded?.record ?? {};
    this.#migratedFrom = loaded?.migratedFrom;
  }

  /**
   * The session's id; `''` while the visitor has no session. It is current as soon as the call that
   * changed it resolves: after `await regenerate()` the new id, after `await destroy()` `''`, after
   * `await save()` of a new session its first id.
   */
  get id(): string {
    return this.#id;
  }

  /** 1.1.3's name for {@link id}. */
  get sid(): string {
    return this.#id;
  }

  /**
   * Every value and every pending flash value, under their own names. Reading it counts as reading
   * the flash values: they are gone in later requests.
   */
  get data(): FlashData & Data {
    const out: Record<string, unknown> = {};
    for (const key of this.#keys()) {
      const value = this.#lookup(key);
      if (value === undefined) continue;
      const flash = FLASH.exec(key);
      if (flash) this.#consumed.add(key);
      // Records are sanitized where they are read, flash keys naming __proto__ & co. included.
      out[flash ? flash[1] : key] = value;
    }
    return out as FlashData & Data;
  }

  /** True if a value or a pending flash value exists under `key`. Does not consume a flash. */
  has(key: keyof Data | keyof FlashData): boolean {
    const name = String(key);
    return this.#lookup(name) !== undefined || this.#lookup(flashKey(name)) !== undefined;
  }

  /** The value, or the flash value (which then counts as read), or `undefined`. */
  get<Key extends keyof (Data & FlashData) & string>(key: Key): (Data & FlashData)[Key] | undefined {
    const fk = flashKey(key);
    const flash = this.#lookup(fk);
    if (flash !== undefined) {
      this.#consumed.add(fk);
      return flash as any;
    }
    return this.#lookup(key) as any;
  }

  /**
   * Sets a value; `undefined` removes it. The value is copied as JSON keeps it.
   * @throws TypeError for a key that reaches prototypes, or a value JSON cannot keep.
   */
  async set<Key extends keyof Data & string>(key: Key, value: Data[Key] | undefined): Promise<void> {
    checkKey(key);
    if (value === undefined) return this.unset(key);
    this.#changes.set(key, toJsonValue(value, key));
    this.#removeIfPresent(flashKey(key));
  }

  /**
   * Sets a value that lives until a request reads it.
   * @throws TypeError for a key that reaches prototypes, or a value JSON cannot keep.
   */
  async flash<Key extends keyof FlashData & string>(key: Key, value: FlashData[Key]): Promise<void> {
    checkKey(key);
    const fk = flashKey(key);
    if (value === undefined) return this.#removeIfPresent(fk);
    this.#changes.set(fk, toJsonValue(value, key));
    this.#consumed.delete(fk);
    this.#removeIfPresent(key);
  }

  /** Removes a value or a pending flash value. */
  async unset(key: keyof Data | keyof FlashData): Promise<void> {
    const name = String(key);
    this.#removeIfPresent(name);
    this.#removeIfPresent(flashKey(name));
  }

  /**
   * Ends the session: its record is deleted and its cookies expire when the request ends. A later
   * `set()` in the same request starts a new session with a new id.
   */
  async destroy(): Promise<void> {
    if (this.#id) this.#discard = this.#id;
    this.#id = '';
    this.#record = {};
    this.#changes.clear();
    this.#consumed.clear();
    this.#regenerate = false;
  }

  /**
   * Moves the data to a new id and deletes the old record. Call it when privileges change (log-in)
   * so that an id planted before cannot follow the user in. When it resolves, `id` is the new id.
   * With the cookie strategy the new cookie is written when the request ends; with a store the
   * move is written at once (it is the store that gives the new id), together with the changes
   * made so far, like `save()`: changes made after it are written when the request ends.
   * @throws SessionStoreError when the store fails.
   */
  async regenerate(): Promise<void> {
    if (!this.#id) return;
    this.#regenerate = true;
    if (this.#runtime.inCookie) {
      this.#id = this.#runtime.ids.generate();
      return;
    }
    await this.#persist(false);
  }

  /**
   * 1.1.3's misspelt {@link destroy} (`@svelte-dev/auth` 1.1.3 calls it at log-out).
   * @deprecated Use `destroy()`.
   */
  async destory(): Promise<void> {
    warnOnce('session.destory() is deprecated: it is now spelt destroy(), and does the same.');
    return this.destroy();
  }

  /**
   * 1.1.3's way to change the session id. It no longer adopts the id it is given (an id chosen by
   * the app, or taken from a request, would let someone else's session be entered, or a planted one
   * kept): the session moves to a fresh id that the library makes, as with `regenerate()`. With
   * `data`, the session's values are replaced by it first. `id` shows the new id when it resolves.
   * @deprecated Use `regenerate()` (and `set()` for the values).
   * @throws SessionStoreError when the store fails.
   */
  async updateSid(_id: string, data?: Partial<Data>): Promise<void> {
    warnOnce('session.updateSid(id, data) is deprecated and ignores the id it is given: the session moves to a fresh id the library makes (ids chosen by the app are never adopted). Use session.regenerate(), and session.set() for the values.');
    if (data !== undefined && data !== null) {
      for (const key of this.#keys()) if (!FLASH.test(key)) this.#removeIfPresent(key);
      for (const [key, value] of Object.entries(data)) await this.set(key as keyof Data & string, value as Data[keyof Data & string]);
    }
    if (this.#id) await this.regenerate();
    else await this.save();
  }

  /** 1.1.3 needed this before first use; sessions are now ready when the route runs. Resolves at once. */
  async init(): Promise<void> {}

  /** Persists pending changes now instead of when the request ends. */
  async save(): Promise<void> {
    await this.#persist(false);
  }

  /**
   * @internal True when {@link commit} would write nothing and set no cookie: no change, no flash
   * read, no destroy or regenerate, no re-signing, no rolling refresh due. Lets
   * `handleSession` skip the commit of a request that only read (or never touched) its session.
   */
  get idle(): boolean {
    return (
      this.#changes.size === 0 &&
      this.#consumed.size === 0 &&
      this.#discard === undefined &&
      !this.#regenerate &&
      !this.#stale &&
      this.#outgoing.length === 0 &&
      (this.#id === '' || !this.#rollingDue(this.#runtime.clock.now()))
    );
  }

  /**
   * @internal The request read the values of a session that has some: its response may show them,
   * so it must not be cached publicly (the development warning in `handleSession`).
   */
  get readValues(): boolean {
    return this.#looked && this.#id !== '' && Object.keys(this.#record).length > 0;
  }

  /** @internal A 1.1.3 session that this request moves to the current format. */
  get migrating(): boolean {
    return this.#migratedFrom !== undefined;
  }

  /** @internal What `session.validate` is shown: the values without pending flash values. */
  toValidate(): SessionToValidate {
    const data: SessionData = {};
    for (const key of Object.keys(this.#record)) {
      if (!FLASH.test(key)) data[key] = this.#record[key];
    }
    return { id: this.#id, created: new Date(this.#created), expires: new Date(this.#expires), data };
  }

  /**
   * @internal Persists what the request changed (consuming flash values it read) and returns
   * the cookies the response must set. Called once, by `handleSession`.
   */
  async commit(): Promise<PendingCookie[]> {
    await this.#persist(true);
    return this.#outgoing;
  }

  /** Own keys only: `get('constructor')` of a fresh session is `undefined`, not Object's. */
  #lookup(key: string): unknown {
    this.#looked = true;
    if (this.#changes.has(key)) return this.#changes.get(key);
    return Object.hasOwn(this.#record, key) ? this.#record[key] : undefined;
  }

  #keys(): Set<string> {
    const keys = new Set(Object.keys(this.#record));
    for (const key of this.#changes.keys()) keys.add(key);
    return keys;
  }

  #removeIfPresent(key: string): void {
    if (this.#changes.has(key) || Object.hasOwn(this.#record, key)) this.#changes.set(key, undefined);
  }

  /** Changes that differ from the record; with `final`, consumed flash values are removed too. */
  #effectiveChanges(final: boolean): Map<string, unknown> {
    const effective = new Map<string, unknown>();
    for (const [key, value] of this.#changes) {
      const present = Object.hasOwn(this.#record, key);
      if (value === undefined ? present : !present || !Object.is(this.#record[key], value) || typeof value === 'object') {
        effective.set(key, value);
      }
    }
    if (final) {
      for (const key of this.#consumed) {
        if (this.#lookup(key) !== undefined || Object.hasOwn(this.#record, key)) effective.set(key, undefined);
      }
    }
    return effective;
  }

  async #persist(final: boolean): Promise<void> {
    const { config, strategy, clock, inCookie } = this.#runtime;
    const now = clock.now();
    const changes = this.#effectiveChanges(final);
    const context = this.#context;

    const legacy = this.#migratedFrom;
    const migrating = legacy !== undefined;
    if (legacy !== undefined) {
      // A 1.1.3 session: its old record goes (a copy of the old cookie then finds nothing), and so
      // do its old cookies, unless the write below replaces them.
      this.#migratedFrom = undefined;
      if (!inCookie) await callStore('delete a session', () => (strategy.deleteLegacyData ?? strategy.deleteData).call(strategy, legacy, context));
      if (!this.#id) this.#outgoing = this.#expireAll();
    }

    if (this.#discard) {
      const discard = this.#discard;
      this.#discard = undefined;
      if (!inCookie) await callStore('delete a session', () => strategy.deleteData(discard, context));
      if (!this.#id) this.#outgoing = this.#expireAll();
    }

    if (!this.#id || this.#regenerate) {
      let record = applyTo(this.#record, changes);
      if (Object.keys(record).length === 0) {
        // Nothing to keep: a visitor who never wrote gets no cookie and no record (lazy sessions).
        if (this.#regenerate) await this.#dropCurrent();
        this.#settle(record);
        return;
      }
      const previous = this.#regenerate ? this.#id : undefined;
      this.#created = now;
      this.#expires = config.expiryAt(now, now);
      const expires = new Date(this.#expires);
      if (inCookie) {
        // regenerate() already drew the new id.
        if (!this.#regenerate) this.#id = this.#runtime.ids.generate();
        this.#payload = await strategy.createData(record, expires, context);
      } else if (previous) {
        // Moved only if the old record still exists, in one step where the store can (memory, Redis).
        const moved = await callStore('move a session', () => strategy.moveData(previous, changes, expires, context));
        if (moved === null) {
          // Destroyed or expired by someone else meanwhile: the request ends anonymous.
          this.#endAnonymous();
          return;
        }
        this.#id = moved.id;
        record = sanitizeRecord(moved.record) ?? {};
        if (config.userId) await this.#indexUser(record, undefined, expires);
      } else {
        this.#id = await callStore('create a session', () => strategy.createData(record, expires, context));
        if (config.userId) await this.#indexUser(record, undefined, expires);
      }
      this.#regenerate = false;
      this.#settle(record);
      try {
        await this.#issue(now);
      } catch (error) {
        // A 1.1.3 cookie session bigger than this version's cookies may hold (1.1.3 chunked without
        // a cap): failing every request until the browser drops its cookies would lock the user
        // out, so it starts afresh, its old cookies expired, and the app's log says why.
        if (!migrating || !(error instanceof SessionError) || error.code !== 'SESSION_TOO_LARGE') throw error;
        console.error(`[@svelte-dev/session] A session written by 1.1.3 could not be moved to the current format and was ended: ${error.message}`);
        this.#endAnonymous();
      }
      return;
    }

    const expires = config.expiryAt(now, this.#created);
    if (changes.size === 0 && !this.#rollingDue(now)) {
      if (this.#stale) {
        // Signed with an older secret, or (cookie strategy) its payload is in an outdated form.
        if (inCookie) this.#payload = await strategy.createData(this.#record, new Date(this.#expires), context);
        await this.#issue(now);
      }
      this.#settle(this.#record);
      return;
    }

    // An existing session with changes (or due for a rolling refresh): write it with a new expiry.
    // A store's cookie holds only the id and the expiry: it is signed and sent again only when the
    // expiry moves by at least one step (or earlier); otherwise the record keeps the cookie's expiry.
    const reissue = inCookie || expires < this.#expires || expires - this.#expires >= config.reissueStep;
    const record = applyTo(this.#record, changes);
    if (inCookie) {
      if (changes.size > 0 || this.#stale) this.#payload = await strategy.createData(record, new Date(expires), context);
    } else {
      const until = new Date(reissue ? expires : this.#expires);
      const kept = await callStore('update a session', () => strategy.applyChanges(this.#id, changes, until, context));
      if (!kept) {
        // Destroyed or expired by someone else meanwhile: never bring it back.
        this.#endAnonymous();
        return;
      }
      if (config.userId) await this.#indexUser(record, this.#record, until);
    }
    this.#settle(record);
    if (!reissue) {
      if (this.#stale) await this.#issue(now);
      return;
    }
    this.#expires = expires;
    await this.#issue(now);
  }

  /**
   * Rolling: a refresh is due when the last write is at least one interval old and the refresh
   * would actually move the expiry (not when it already sits at the absolute cap).
   */
  #rollingDue(now: number): boolean {
    const { config } = this.#runtime;
    return (
      config.rollingInterval > 0 &&
      config.expiryAt(now, this.#created) > this.#expires &&
      now - (this.#expires - config.lifetime) >= config.rollingInterval
    );
  }

  /**
   * With `session.userId` (callers check it first, so that a write without it awaits nothing more):
   * tells the store which user the session now belongs to, after a write that gave it a user (a new
   * session, or a user other than `before`'s).
   */
  async #indexUser(record: Record<string, unknown>, before: Record<string, unknown> | undefined, expires: Date): Promise<void> {
    const { config, strategy } = this.#runtime;
    const user = userOf(config, record);
    if (user === undefined || (before !== undefined && userOf(config, before) === user)) return;
    const id = this.#id;
    await callStore('index a session by user', () => strategy.addUserSession!(user, id, expires, this.#context));
  }

  /** After a write: the record is what was written, and nothing is pending. */
  #settle(record: Record<string, unknown>): void {
    this.#record = record;
    this.#changes.clear();
  }

  /** The request goes on without a session: nothing kept, nothing pending, every session cookie expired. */
  #endAnonymous(): void {
    this.#id = '';
    this.#regenerate = false;
    this.#settle({});
    this.#outgoing = this.#expireAll();
  }

  async #dropCurrent(): Promise<void> {
    const id = this.#id;
    this.#id = '';
    this.#regenerate = false;
    if (!this.#runtime.inCookie) await callStore('delete a session', () => this.#runtime.strategy.deleteData(id, this.#context));
    this.#outgoing = this.#expireAll();
  }

  /** Signs the current envelope into cookies, expiring chunks it no longer uses. */
  async #issue(now: number): Promise<void> {
    const { codec, config } = this.#runtime;
    const cookies = await codec.write({
      id: this.#id,
      created: this.#created,
      expires: this.#expires,
      payload: this.#runtime.inCookie ? this.#payload : ''
    });
    // Max-Age only when the user asked for a lifetime; otherwise a browser-session cookie
    // (the expiry inside the signed envelope still bounds it on the server). At most 400 days,
    // which is what browsers keep anyway: a `cookie.expires` further ahead is not sent as such.
    let maxAge: number | undefined;
    if (config.persistent || config.fixedExpiry !== undefined) {
      maxAge = Math.min(MAX_AGE_LIMIT_SECONDS, Math.max(0, Math.floor((this.#expires - now) / 1000)));
    }
    const expires = maxAge === undefined ? undefined : new Date(now + maxAge * 1000);
    const outgoing: PendingCookie[] = cookies.map(({ name, value }) => ({ name, value, maxAge, expires }));
    const written = new Set(cookies.map((c) => c.name));
    for (const name of this.#requestCookieNames) {
      if (!written.has(name)) outgoing.push(expired(name));
    }
    this.#stale = false;
    this.#outgoing = outgoing;
  }

  #expireAll(): PendingCookie[] {
    return this.#requestCookieNames.map(expired);
  }
}

const expired = (name: string): PendingCookie => ({ name, value: '', maxAge: 0, expires: new Date(0) });

/** The user a record belongs to under `session.userId`, as a string; `undefined` for none. */
export function userOf(config: SessionConfig, record: Record<string, unknown>): string | undefined {
  const user = config.userId?.(record as SessionData);
  return user === undefined || user === null || user === '' ? undefined : String(user);
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`Session keys must be non-empty strings, got ${typeof key === 'string' ? '""' : typeof key}.`);
  }
  if (isForbiddenKey(key)) {
    throw new TypeError(`"${key}" cannot be a session key: it would reach object prototypes. Choose another name.`);
  }
  if (FLASH.test(key)) {
    throw new TypeError(`"${key}" cannot be a session key: names of the form __flash_<name>__ are reserved for flash values.`);
  }
}
