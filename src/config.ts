import { serialize } from 'cookie';
import { SessionConfigError } from './errors.js';
import type { AdapterOptions, CookieOptions, CookieStrategyOptions, HandleSessionOptions, SessionOptions } from './types.js';

const DAY = 86_400_000;
/** RFC 6265bis caps cookie lifetimes at 400 days; browsers clamp longer ones silently. */
export const MAX_AGE_LIMIT_SECONDS = 400 * 86_400;
/** One cookie's name and value together: what browsers keep (RFC 6265bis). */
const COOKIE_LIMIT = 4096;
/** Default cap on all chunks together: leaves 1 KiB of nginx's default 8 KiB header line. */
const DEFAULT_MAX_SIZE = 7168;
/** Node's default limit is 16 KiB for all request headers together. */
const MAX_SIZE_LIMIT = 15 * 1024;
const KNOWN_ADAPTERS = ['cookie', 'memory', 'cloudflare-kv', 'redis'] as const;
const SAME_SITE = ['lax', 'strict', 'none'];
/** RFC 6265 token characters: what a cookie name may contain. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What would end a cookie attribute early: `;` and control characters (CR and LF among them). */
const ATTRIBUTE_BREAKERS = /[;\x00-\x1f\x7f]/;

const warned = new Set<string>();
/** Prints `message` once per process (a warning about how the library is used). */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(`[@svelte-dev/session] ${message}`);
}

let processSecret: string | undefined;
/** One random secret per process, for development without configured secrets. */
function developmentSecret(): string {
  if (!processSecret) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    processSecret = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return processSecret;
}

/** `NODE_ENV=production`, read from the runtime's `process` where it has one. */
export function isProduction(): boolean {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.NODE_ENV === 'production';
}

const STRATEGY_METHODS = ['createData', 'readData', 'updateData', 'deleteData'] as const;

/** Throws a SessionConfigError naming the store methods `candidate` lacks. */
export function checkStrategyMethods(candidate: unknown, where: string): void {
  const missing = STRATEGY_METHODS.filter((m) => typeof (candidate as Record<string, unknown> | null)?.[m] !== 'function');
  if (missing.length > 0) {
    throw new SessionConfigError(`${where} lacks ${missing.map((m) => `${m}()`).join(', ')}. A store implements createData, readData, updateData and deleteData (see SessionStorageStrategy), or extends BaseStrategy.`);
  }
}

function fail(option: string, problem: string, fix: string): never {
  throw new SessionConfigError(`handleSession(): \`${option}\` ${problem}. ${fix}`);
}

function positiveSeconds(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(option, `must be a positive number of seconds, got ${JSON.stringify(value)}`, 'For one week write 60 * 60 * 24 * 7.');
  }
  return value;
}

/**
 * The validated options of one `handleSession()` call, with defaults applied. Built once; every
 * per-request decision reads these fields instead of re-checking options.
 */
export class SessionConfig {
  /** The session cookie's name. */
  readonly cookieName: string;
  /** Signing secrets, newest first. */
  readonly secrets: readonly string[];
  readonly adapter: AdapterOptions;
  /** How long a session lives after its last write (or use, with rolling), in ms. */
  readonly lifetime: number;
  /** A fixed expiry for every session (from `cookie.expires`), in ms since the epoch. */
  readonly fixedExpiry: number | undefined;
  /** Whether the cookie carries Max-Age (from `cookie.maxAge`); otherwise a browser-session cookie. */
  readonly persistent: boolean;
  /** Minimum interval between rolling refreshes, in ms; 0 when rolling is off. */
  readonly rollingInterval: number;
  /**
   * Store strategies: the least a write must move the expiry by before the id cookie is signed
   * and sent again, in ms (the rolling interval, or with rolling off what `rolling: true` uses).
   */
  readonly reissueStep: number;
  /** Hard cap on a session's age, in ms, or undefined. */
  readonly absoluteTimeout: number | undefined;
  /** `session.validate`: the app's check of each session a request brings. */
  readonly validate: SessionOptions['validate'];
  /** `session.userId`: which user a session belongs to. */
  readonly userId: SessionOptions['userId'];
  /** Cookie attributes without lifetime, for each value of `secure` we may need. */
  readonly attributes: { secure: CookieOptions; insecure: CookieOptions };
  /** The user fixed `secure` explicitly; otherwise it follows SvelteKit's localhost rule. */
  readonly secureExplicit: boolean;
  /** Why the cookie is Secure even on plain-http localhost, when it is: for the warning there. */
  readonly forcedSecure: string | undefined;
  /** Split a cookie too large for one into numbered chunks (cookie strategy option). */
  readonly chunk: boolean;
  /** The most bytes the session's cookies may take together. */
  readonly maxSize: number;

  constructor(options: HandleSessionOptions = {}) {
    if (options === null || typeof options !== 'object') {
      fail('options', `must be an object, got ${typeof options}`, 'Call handleSession({ session: { secrets: [...] } }).');
    }
    this.adapter = SessionConfig.#adapter(options.adapter);
    const cookieOptions: CookieStrategyOptions = this.adapter.name === 'cookie' && !this.adapter.strategy ? (this.adapter.options ?? {}) : {};
    for (const flag of ['chunk', 'encrypt'] as const) {
      if (cookieOptions[flag] !== undefined && typeof cookieOptions[flag] !== 'boolean') {
        fail(`adapter.options.${flag}`, `must be true or false, got ${JSON.stringify(cookieOptions[flag])}`, `Write ${flag}: true.`);
      }
    }
    this.chunk = cookieOptions.chunk === true;
    if (cookieOptions.maxSize !== undefined && !this.chunk) {
      fail('adapter.options.maxSize', 'only applies with chunk: true', 'Add chunk: true, or remove maxSize (one cookie holds at most 4096 bytes).');
    }
    const maxSize = cookieOptions.maxSize ?? DEFAULT_MAX_SIZE;
    if (!Number.isInteger(maxSize) || maxSize < COOKIE_LIMIT || maxSize > MAX_SIZE_LIMIT) {
      fail('adapter.options.maxSize', `must be a whole number of bytes from ${COOKIE_LIMIT} to ${MAX_SIZE_LIMIT}, got ${JSON.stringify(maxSize)}`, `Servers refuse larger request headers (Node: 16 KiB for all headers, nginx: 8 KiB per line by default); the default is ${DEFAULT_MAX_SIZE}.`);
    }
    this.maxSize = this.chunk ? maxSize : COOKIE_LIMIT;

    const session = options.session ?? {};
    const key = session.key ?? '__sid';
    if (typeof key !== 'string' || !COOKIE_NAME.test(key)) {
      fail('session.key', `must be a cookie name made of letters, digits and !#$%&'*+-.^_\`|~, got ${JSON.stringify(key)}`, "Use a name such as '__sid'.");
    }
    this.cookieName = key;
    this.secrets = SessionConfig.#secrets(session.secrets);

    const rolling = session.rolling ?? false;
    if (typeof rolling !== 'boolean' && positiveSeconds('session.rolling', rolling) === undefined) {
      fail('session.rolling', 'must be true, false or a number of seconds', 'Write rolling: true.');
    }
    for (const hook of ['validate', 'userId'] as const) {
      if (session[hook] !== undefined && typeof session[hook] !== 'function') {
        fail(`session.${hook}`, `must be a function, got ${typeof session[hook]}`, hook === 'validate' ? 'Write validate: ({ id, created, data }, event) => true to keep the session.' : 'Write userId: (data) => data.userId.');
      }
    }
    this.validate = session.validate;
    this.userId = session.userId;
    const absolute = positiveSeconds('session.absoluteTimeout', session.absoluteTimeout);
    this.absoluteTimeout = absolute === undefined ? undefined : absolute * 1000;

    const cookie: CookieOptions = { ...(options.cookie ?? {}) };
    const maxAge = positiveSeconds('cookie.maxAge', cookie.maxAge);
    if (maxAge !== undefined && maxAge > MAX_AGE_LIMIT_SECONDS) {
      fail('cookie.maxAge', `is ${maxAge} seconds, more than the 400 days browsers accept`, `Use at most ${MAX_AGE_LIMIT_SECONDS}.`);
    }
    if (cookie.expires !== undefined && !(cookie.expires instanceof Date && !Number.isNaN(cookie.expires.getTime()))) {
      fail('cookie.expires', 'must be a valid Date', 'Pass new Date(...), or use cookie.maxAge for a lifetime in seconds.');
    }
    if (maxAge !== undefined && cookie.expires) {
      fail('cookie.maxAge', 'and `cookie.expires` are both set', 'Set only one: maxAge for a lifetime in seconds, expires for a fixed date.');
    }
    this.persistent = maxAge !== undefined;
    this.fixedExpiry = cookie.expires?.getTime();
    this.lifetime = maxAge !== undefined ? maxAge * 1000 : DAY;
    this.rollingInterval =
      rolling === false
        ? 0
        : rolling === true
          ? Math.max(1000, Math.min(60_000, this.lifetime / 2))
          : Math.max(1000, rolling * 1000);
    this.reissueStep = this.rollingInterval || Math.max(1000, Math.min(60_000, this.lifetime / 2));

    if (cookie.sameSite !== undefined && cookie.sameSite !== true && cookie.sameSite !== false && !SAME_SITE.includes(String(cookie.sameSite).toLowerCase())) {
      fail('cookie.sameSite', `must be 'lax', 'strict' or 'none', got ${JSON.stringify(cookie.sameSite)}`, "Use sameSite: 'lax' unless you know you need another.");
    }
    if (cookie.path !== undefined && (typeof cookie.path !== 'string' || !cookie.path.startsWith('/'))) {
      fail('cookie.path', `must start with '/', got ${JSON.stringify(cookie.path)}`, "Use path: '/' so every route sees the session.");
    }
    for (const option of ['path', 'domain'] as const) {
      const value = cookie[option];
      if (value === undefined) continue;
      if (typeof value !== 'string' || value === '') fail(`cookie.${option}`, `must be a non-empty string, got ${JSON.stringify(value)}`, `Remove it, or give a ${option}.`);
      if (ATTRIBUTE_BREAKERS.test(value)) {
        fail(`cookie.${option}`, `contains ${JSON.stringify(value.match(ATTRIBUTE_BREAKERS)?.[0])} (${JSON.stringify(value)})`, 'A `;`, CR, LF or other control character would end the attribute and let what follows become another attribute or header. Remove it.');
      }
    }
    if (isProduction()) {
      if (cookie.secure === false) warnOnce('cookie.secure is false while NODE_ENV is production: the session cookie can travel over plain HTTP, where anyone on the path can take it. Remove secure: false.');
      if (cookie.httpOnly === false) warnOnce("cookie.httpOnly is false while NODE_ENV is production: the page's scripts (and so any injected script) can read the session cookie. Remove httpOnly: false.");
    }
    const prefix = SessionConfig.#prefixRules(key, cookie);
    const sameSiteNone = String(cookie.sameSite).toLowerCase() === 'none';
    if (sameSiteNone && cookie.secure === false) {
      fail('cookie.sameSite', "is 'none' while `cookie.secure` is false: browsers drop a SameSite=None cookie without Secure", "Remove secure: false (the cookie is then always Secure), or use sameSite: 'lax'.");
    }
    // A prefixed name or SameSite=None needs Secure everywhere, http://localhost included: browsers
    // refuse such a cookie without it (WebKit refuses Secure on http://localhost too: the engine
    // warns once when it sends one there).
    const alwaysSecure = sameSiteNone || prefix !== undefined;
    this.secureExplicit = cookie.secure !== undefined || alwaysSecure;
    this.forcedSecure = prefix
      ? `the cookie name ${JSON.stringify(key)} starts with ${prefix}, which browsers accept only with Secure`
      : sameSiteNone
        ? "sameSite is 'none', which browsers accept only with Secure"
        : cookie.secure === true
          ? 'cookie.secure is true'
          : undefined;
    const base: CookieOptions = {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      ...cookie,
      maxAge: undefined,
      expires: undefined
    };
    this.attributes = {
      secure: { ...base, secure: cookie.secure ?? true },
      insecure: { ...base, secure: cookie.secure ?? alwaysSecure }
    };
    try {
      serialize(key, '', { ...this.attributes.secure, maxAge: maxAge === undefined ? undefined : Math.floor(maxAge), expires: cookie.expires });
    } catch (error) {
      // The cookie package's own checks (a domain it cannot write, for example).
      fail('cookie', `cannot be written as a Set-Cookie header: ${(error as Error).message}`, 'Check cookie.domain and cookie.path.');
    }
  }

  /**
   * The cookie-name prefixes (RFC 6265bis): `__Secure-` needs Secure; `__Host-` needs Secure,
   * Path=/ and no Domain. Browsers match them without regard to case and drop a cookie that breaks
   * them, so a session would silently never stick. Returns the name's prefix, if it has one.
   */
  static #prefixRules(key: string, cookie: CookieOptions): '__Host-' | '__Secure-' | undefined {
    const prefix = /^__host-/i.test(key) ? '__Host-' : /^__secure-/i.test(key) ? '__Secure-' : undefined;
    if (!prefix) return undefined;
    if (cookie.secure === false) {
      fail('cookie.secure', `is false, but the cookie name ${JSON.stringify(key)} starts with ${prefix}, which browsers accept only with Secure`, `Remove secure: false (the cookie is then always Secure), or use a name without ${prefix}.`);
    }
    if (prefix !== '__Host-') return prefix;
    if (cookie.domain !== undefined) {
      fail('cookie.domain', `is set, but a ${prefix} cookie must not have a Domain (browsers drop it)`, 'Remove cookie.domain: the cookie then belongs to this host only, which is what __Host- means.');
    }
    if (cookie.path !== undefined && cookie.path !== '/') {
      fail('cookie.path', `is ${JSON.stringify(cookie.path)}, but a ${prefix} cookie must have Path=/`, "Use path: '/', or a name without __Host-.");
    }
    return prefix;
  }

  /** The expiry of a session written at `now` and created at `created`. */
  expiryAt(now: number, created: number): number {
    let expires = this.fixedExpiry ?? now + this.lifetime;
    if (this.absoluteTimeout !== undefined) expires = Math.min(expires, created + this.absoluteTimeout);
    return expires;
  }

  static #adapter(adapter: HandleSessionOptions['adapter']): AdapterOptions {
    if (adapter === undefined) return { name: 'cookie' };
    const strategy = (adapter as { strategy?: unknown })?.strategy;
    if (strategy !== undefined) {
      checkStrategyMethods(typeof strategy === 'function' ? strategy.prototype : strategy, 'handleSession(): `adapter.strategy`');
      return adapter;
    }
    const name = (adapter as { name?: unknown })?.name;
    if (!KNOWN_ADAPTERS.includes(name as (typeof KNOWN_ADAPTERS)[number])) {
      fail('adapter.name', `is ${JSON.stringify(name)}, which is not a known adapter`, `Use one of: ${KNOWN_ADAPTERS.map((n) => `'${n}'`).join(', ')}.`);
    }
    const options = adapter.options ?? {};
    if (typeof options !== 'object' || options === null) {
      fail('adapter.options', 'must be an object', `See the README for the options of the '${name}' adapter.`);
    }
    return { name, options } as AdapterOptions;
  }

  static #secrets(secrets: unknown): string[] {
    if (secrets === undefined || (Array.isArray(secrets) && secrets.length === 0)) {
      if (isProduction()) {
        fail('session.secrets', 'is missing and NODE_ENV is production', 'Pass secrets: [process.env.SESSION_SECRET] with a random string of at least 32 characters (for example from `openssl rand -base64 32`).');
      }
      warnOnce('No session.secrets given: using a random secret for this process, so sessions will not survive a restart. Set session.secrets before going to production.');
      return [developmentSecret()];
    }
    if (!Array.isArray(secrets)) {
      fail('session.secrets', `must be an array of strings, newest first, got ${typeof secrets}`, "Write secrets: [SESSION_SECRET] (an array, even for one secret).");
    }
    secrets.forEach((secret: unknown, index: number) => {
      if (secret === undefined || secret === null) {
        fail(`session.secrets[${index}]`, `is ${secret}: the variable it is read from is not set`, "Create a file named .env at the root of your app with the line SESSION_SECRET=<a random string of at least 32 characters> (make one with `openssl rand -base64 32`), or set SESSION_SECRET in the server's environment; then read it with `import { SESSION_SECRET } from '$env/static/private'` (fixed at build time) or `import { env } from '$env/dynamic/private'` and env.SESSION_SECRET (read when the server starts, as adapter-node does).");
      }
      if (typeof secret !== 'string') fail(`session.secrets[${index}]`, `must be a string, got ${typeof secret}`, 'Pass each secret as a string.');
      if (secret.length === 0) fail(`session.secrets[${index}]`, 'is an empty string (is the variable it comes from set to nothing?)', 'Set it to a random string of at least 32 characters, for example from `openssl rand -base64 32`.');
    });
    (secrets as string[]).forEach((secret, index) => {
      if (secret.length >= 32) return;
      // A short secret can be guessed from one cookie (a 4-character one was found in 1.4 s), and
      // then any session forged: a mistake to warn about while developing, never to run with.
      if (isProduction()) {
        fail(`session.secrets[${index}]`, `is ${secret.length} characters long while NODE_ENV is production; a secret under 32 characters can be guessed from one cookie, and sessions forged with it`, 'Use a random string of at least 32 characters, for example from `openssl rand -base64 32`.');
      }
      warnOnce(`A session secret is shorter than 32 characters (${secret.length}). Use a random string of at least 32 characters, for example from \`openssl rand -base64 32\`; with NODE_ENV=production this is an error.`);
    });
    return [...(secrets as string[])];
  }
}

/** For tests: forget which warnings were printed. */
export function resetWarnings(): void {
  warned.clear();
}
