/**
 * Public types. A leaf module: it imports nothing of ours at run time.
 */
import type { RequestEvent } from '@sveltejs/kit';
import type { DependencyContainer } from 'tsyringe';

/** The values of a session: JSON values under string keys. */
export interface SessionData {
  [key: string]: any;
}

/** How a flash value is kept in a stored record: `__flash_<key>__`. Internal to records. */
export type FlashDataKey<Key extends string> = `__flash_${Key}__`;

/**
 * A stored session record: the values, and the pending flash values under `__flash_<key>__`.
 * This is what a {@link SessionStorageStrategy} keeps; users of `locals.session` never see these
 * key names.
 */
export type FlashSessionData<Data = SessionData, FlashData = Data> = Partial<
  Data & { [Key in keyof FlashData as FlashDataKey<Key & string>]: FlashData[Key] }
>;

/**
 * SvelteKit's `Handle`, declared here so that the package's types are the same on SvelteKit 2
 * and 3 (SvelteKit 3 exports `Handle` from `@sveltejs/kit/hooks` only). Both versions' `Handle`
 * fits it, both ways.
 */
export type SessionHandle = (input: {
  event: RequestEvent;
  resolve: (event: RequestEvent, opts?: any) => Response | Promise<Response>;
}) => Response | Promise<Response>;

/** Per-request context handed to strategies (they are built once, not per request). */
export interface StrategyContext {
  /** The SvelteKit request being served. */
  event: RequestEvent;
}

/**
 * The four-method store contract (SPEC §7). Implement it, usually by extending `BaseStrategy`,
 * to keep sessions in your own store.
 */
export interface SessionStorageStrategy<Data = SessionData, FlashData = Data> {
  /**
   * Stores a new record and returns its id.
   * @param expires when the record may be forgotten; stores should set a TTL from it.
   * @throws anything on store failure: the request then fails with a `SessionStoreError` (503).
   */
  createData(
    data: FlashSessionData<Data, FlashData>,
    expires?: Date,
    context?: StrategyContext
  ): Promise<string>;
  /**
   * Returns the record, or `null` when the id is unknown or expired.
   * @throws anything on store failure (never return `null` for "store down").
   */
  readData(id: string, context?: StrategyContext): Promise<FlashSessionData<Data, FlashData> | null>;
  /**
   * Replaces the record, only if it exists: for an id that is unknown (deleted or expired), write
   * nothing and resolve `false`. That is what keeps a request still in flight from bringing back a
   * session destroyed meanwhile (the engine reads, then updates). A store that writes whatever the
   * id (as 1.1.3's examples did) still works, without that guarantee; the conformance suite flags it.
   * @throws anything on store failure.
   */
  updateData(
    id: string,
    data: FlashSessionData<Data, FlashData>,
    expires?: Date,
    context?: StrategyContext
  ): Promise<void | boolean>;
  /**
   * Deletes the record; deleting an unknown id is not an error.
   * @throws anything on store failure.
   */
  deleteData(id: string, context?: StrategyContext): Promise<void>;
  /**
   * Optional, for `session.userId`: remember that session `id` belongs to `user`. Called after the
   * write that gave the session its user (usually the log-in). The index may drop ids of sessions
   * that have ended.
   */
  addUserSession?(user: string, id: string, expires: Date, context?: StrategyContext): Promise<void>;
  /**
   * Optional, for `session.userId`: the ids indexed under `user`, removing them from the index in
   * the same step. The caller checks each record's user before deleting it.
   */
  takeUserSessions?(user: string, context?: StrategyContext): Promise<string[]>;
}

/**
 * One request's changes to a record, applied at the end of the request. `undefined` removes the
 * key. Keys are record keys (flash values under `__flash_<key>__`).
 */
export type SessionChanges = ReadonlyMap<string, unknown>;

/**
 * Attributes of the session cookie (the `cookie` package's serialize options, without `encode`).
 * Declared here rather than taken from `cookie`'s types, so that the package's declarations do
 * not depend on which major version of `cookie` an app has installed.
 */
export interface CookieOptions {
  domain?: string;
  path?: string;
  /** A fixed date when every session ends (instead of `maxAge`). */
  expires?: Date;
  /** Seconds; also the session's lifetime. */
  maxAge?: number;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/** Options of the built-in cookie strategy (`adapter: { name: 'cookie', options }`). */
export interface CookieStrategyOptions {
  /**
   * Split data too large for one cookie (4096 bytes) into numbered cookies.
   * @default false
   */
  chunk?: boolean;
  /**
   * With `chunk`, the most bytes all the session's cookies may take together (name and value of
   * each). Request headers are capped by servers: Node accepts 16 KiB in all, nginx 8 KiB per line.
   * @default 7168
   */
  maxSize?: number;
  /**
   * Seal the data with AES-256-GCM, so that the client can carry it but not read it. Keys are
   * derived from `session.secrets` (HKDF-SHA256, one per secret); the envelope stays signed too.
   * Cookies written before the switch, either way, are still read, and written anew in the new
   * form on their next response.
   * @default false
   */
  encrypt?: boolean;
}

/**
 * 1.1.3's (misspelt) name for {@link CookieStrategyOptions}.
 * @deprecated Use `CookieStrategyOptions`.
 */
export type CookieStrageOptions = CookieStrategyOptions;

/** Options of the built-in memory strategy (`adapter: { name: 'memory', options }`). */
export interface MemoryStrategyOptions {
  /** The most records kept; past it the least recently written are dropped. @default unlimited */
  max?: number;
  /** How often, in seconds, expired records are swept even when nothing reads or writes. @default 60 */
  sweepInterval?: number;
}

/**
 * The part of a Workers KV namespace binding the KV strategy uses (Cloudflare's `KVNamespace`
 * satisfies it).
 */
export interface KVNamespaceLike {
  get(key: string, type: 'text'): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Options of the Workers KV strategy (`adapter: { name: 'cloudflare-kv', options }`). */
export interface CloudflareKVStrategyOptions {
  /**
   * The name of the KV namespace binding, as in `wrangler.toml` (`[[kv_namespaces]] binding = "..."`).
   * It is read from `event.platform.env` on each request.
   */
  namespace: string;
  /** Prefix of the KV keys. @default 'sess:' */
  prefix?: string;
}

/**
 * A connected Redis client: an `ioredis` client or cluster (`new Redis()`, `new Redis.Cluster()`),
 * or a `redis` (node-redis) client or cluster (`createClient()`, `createCluster()`) after
 * `await client.connect()`.
 */
export type RedisClientLike = object;

/** Options of the Redis strategy (`adapter: { name: 'redis', options }`). */
export interface RedisStrategyOptions {
  /** Your connected client: ioredis or node-redis, single server or cluster. */
  client: RedisClientLike;
  /** Prefix of the Redis keys. @default 'sess:' */
  prefix?: string;
  /**
   * The longest, in milliseconds, one request waits on Redis in all (including waiting for a
   * reconnecting client) before it fails with a `SessionStoreError` (HTTP 503).
   * @default 2000
   */
  timeout?: number;
}

/** A strategy class written the older way: built per request as `new Strategy(event, options)`. */
export type PerRequestStrategyClass = new (event: RequestEvent, options: any) => SessionStorageStrategy<any, any>;

/**
 * 1.1.3's name for a class built per request: `new Strategy(event, options)`.
 * @deprecated Use {@link PerRequestStrategyClass}, or extend `BaseStrategy`.
 */
export interface Constructable<T, P> {
  new (event: RequestEvent, options: P): T;
}

/** 1.1.3's helper type: `R` and the members of `L` that `R` lacks. */
export type ImplementsOrExtends<L, R> = R & Pick<L, Exclude<keyof L, keyof R>>;

/** Which strategy keeps the data. The type parameters type your own store's records and options. */
export type AdapterOptions<Data = SessionData, FlashData = Data, CustomStrategyOptions = any> =
  | { name: 'cookie'; options?: CookieStrategyOptions; strategy?: undefined }
  | { name: 'memory'; options?: MemoryStrategyOptions; strategy?: undefined }
  | { name: 'cloudflare-kv'; options: CloudflareKVStrategyOptions; strategy?: undefined }
  | { name: 'redis'; options: RedisStrategyOptions; strategy?: undefined }
  | {
      name?: string;
      /**
       * Your own store: a `BaseStrategy` instance, any object with the four methods (see
       * `createCustomStrategy`), or a class built per request as `new Strategy(event, options)`.
       */
      strategy: SessionStorageStrategy<Data, FlashData> | SessionStorageStrategy<any, any> | PerRequestStrategyClass;
      /**
       * Handed to a per-request strategy class as its second constructor argument, together with
       * the `cookie` and `session` options (as 1.1.3 did: `{ cookie, session, ...options }`).
       */
      options?: CustomStrategyOptions;
    }
  | {
      /**
       * A name held in a `string` (1.1.3 typed `name` as `string`): checked when `handleSession()`
       * is called, where an unknown name is a `SessionConfigError` listing the known ones.
       */
      name: string;
      options?: CustomStrategyOptions;
      strategy?: undefined;
    };

/**
 * The `session` part of `handleSession()`'s options (the name and meaning 1.1.3 gave it).
 * In 2.0.0-alpha.0 this interface was called `SessionStorageOptions`: see MIGRATING.md.
 */
export interface SessionOptions {
  /** The session cookie's name. @default '__sid' */
  key?: string;
  /**
   * Signing secrets, newest first. Cookies are signed with the first and accepted with any; a
   * cookie signed with an older one is re-signed. Required when `NODE_ENV=production`. An
   * `undefined` entry (`[env.SESSION_SECRET]` with the variable unset) is a `SessionConfigError`
   * that says so.
   */
  secrets?: readonly (string | undefined)[];
  /**
   * Push the expiry forward on requests that use the session. `true` refreshes at most once a
   * minute (or once per half lifetime, if shorter); a number sets that interval in seconds.
   * @default false
   */
  rolling?: boolean | number;
  /** Hard cap, in seconds, on a session's age since it was created, whatever the activity. */
  absoluteTimeout?: number;
  /**
   * Checks each session a request brings, once its signature, expiry and store record checked
   * out, before the app sees it. Return `true` to keep it; anything else (`false`) ends it: the request gets a fresh session, the
   * cookie is expired and a store's record deleted. This is how a cookie-strategy session is
   * revoked, for example by a per-user epoch (README: "Revoking sessions"). Errors it throws fail
   * the request as they are.
   */
  validate?: (session: SessionToValidate, event: RequestEvent) => boolean | Promise<boolean>;
  /**
   * Which user a session belongs to, from its data (for example `(data) => data.user?.id`). With it,
   * stores that can (memory, Redis, or your own with `addUserSession` and `takeUserSessions`) index
   * sessions by user, and `destroyUserSessions(userId)` on the returned handle ends them all.
   */
  userId?: (data: SessionData) => string | number | null | undefined;
}

/** What `session.validate` is shown of a session. */
export interface SessionToValidate {
  id: string;
  created: Date;
  expires: Date;
  /** The session's values (pending flash values are left out: validating does not consume them). */
  data: SessionData;
}

/** What `handleSession()` returns: a SvelteKit `Handle`, plus what acts on sessions outside a request. */
export type SessionHook = SessionHandle & {
  /**
   * Ends every session of one user (needs `session.userId` and a store that can: memory, Redis, or
   * your own). Sessions whose data now names another user are left alone. Resolves to how many
   * sessions it ended.
   * @throws SessionStoreError when the store fails.
   */
  destroyUserSessions(userId: string | number): Promise<number>;
};

/**
 * Options of `handleSession()`. The type parameters (all optional) type a store of your own:
 * its records and the `adapter.options` handed to it.
 */
export interface HandleSessionOptions<Data = SessionData, FlashData = Data, CustomStrategyOptions = any> {
  /** Where the data lives. @default { name: 'cookie' } */
  adapter?: AdapterOptions<Data, FlashData, CustomStrategyOptions>;
  session?: SessionOptions;
  /**
   * The session cookie's attributes. Defaults: `path: '/'`, `httpOnly: true`, `sameSite: 'lax'`,
   * `secure: true` except on plain-http loopback hosts (`http://localhost`, `http://127.0.0.1`,
   * `http://[::1]`). `maxAge` (seconds) or `expires` is also the session's lifetime; without them
   * the cookie lasts the browser session and the server forgets the session after one day without
   * writes.
   */
  cookie?: CookieOptions;
  /**
   * A tsyringe container to resolve services from; `handleSession` makes a child of it. The
   * package re-exports tsyringe's root `container`, so `container.createChildContainer()` needs
   * no import of tsyringe.
   */
  container?: DependencyContainer;
}

/**
 * The type of `handleSession()`'s whole options object, under the name 1.1.3 gave it (libraries
 * such as `@svelte-dev/auth` declare their options as `AuthOptions & SessionStorageOptions`).
 * The same type as {@link HandleSessionOptions}.
 */
export type SessionStorageOptions<Data = SessionData, FlashData = Data, CustomStrategyOptions = any> = HandleSessionOptions<
  Data,
  FlashData,
  CustomStrategyOptions
>;

/** The current time. Replace it in tests with a fake clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Makes session ids. */
export interface IdGenerator {
  /** A fresh id of at least 128 bits of CSPRNG entropy, in `[A-Za-z0-9_-]`. */
  generate(): string;
}

/** The outcome of checking a signature. */
export type SignatureCheck = 'valid' | 'rotated' | 'invalid';

/** HMAC-SHA256 signing with secret rotation. */
export interface Signer {
  /** The base64url signature of `data` under the newest secret. */
  sign(data: string): Promise<string>;
  /**
   * Checks `signature` against every secret in constant time: `'valid'` under the newest,
   * `'rotated'` under an older one (re-sign it), `'invalid'` otherwise. May answer at once
   * (node:crypto) or with a promise (Web Crypto).
   */
  verify(data: string, signature: string): SignatureCheck | Promise<SignatureCheck>;
}

/** What {@link Cipher.open} gives back. */
export interface OpenedText {
  text: string;
  /** Sealed under an older secret: seal it again under the newest. */
  rotated: boolean;
}

/** Authenticated encryption of the cookie strategy's data (`encrypt: true`). */
export interface Cipher {
  /** Seals `text` under the newest secret, with a fresh random nonce; the result is base64url. */
  seal(text: string): Promise<string>;
  /**
   * Opens a sealed value under any secret, or gives `null` if it does not open (wrong key,
   * tampered, not a sealed value). Never throws on such input. May answer at once (node:crypto)
   * or with a promise (Web Crypto).
   */
  open(sealed: string): OpenedText | null | Promise<OpenedText | null>;
}

/** What the session cookie carries. Times are milliseconds since the epoch. */
export interface Envelope {
  /** The session id. */
  id: string;
  /** When the session was created. */
  created: number;
  /** When it expires. */
  expires: number;
  /** The strategy's payload: the data itself for the cookie strategy, empty for stores. */
  payload: string;
}

/** A verified envelope read from a request. */
export interface DecodedEnvelope extends Envelope {
  /** Signed with an older secret: the response should carry a re-signed cookie. */
  stale: boolean;
}

/** One cookie to send. */
export interface OutgoingCookie {
  name: string;
  value: string;
}

/** The session cookie's wire format: a signed, versioned envelope, split into chunks if needed. */
export interface CookieCodec {
  /**
   * Reads the session's envelope from the request's cookies, joining chunks; `null` for anything
   * missing, malformed, tampered or oversized. Never throws on client input.
   */
  read(cookies: Record<string, string | undefined>): DecodedEnvelope | null | Promise<DecodedEnvelope | null>;
  /**
   * Signs the envelope and returns the cookies that carry it.
   * @throws SessionError (`SESSION_TOO_LARGE`) past one cookie's size (without chunking) or the cap.
   */
  write(envelope: Envelope): Promise<OutgoingCookie[]>;
  /** Names of the session's cookies present in a request (main cookie and chunks). */
  names(cookies: Record<string, string | undefined>): string[];
}
