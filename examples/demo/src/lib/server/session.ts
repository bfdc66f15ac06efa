import { ChunkedCookieCodec, handleSession, HmacSigner, type SessionHook } from '@svelte-dev/session';
import { guard } from './guard';

// process.env rather than $env/dynamic/private: the same code then runs on SvelteKit 2 and 3
// (SvelteKit 3's $env modules only expose variables declared in src/env.ts).
const env = process.env;

/** handleSession()'s options, whatever the package names their type. */
type Options = NonNullable<Parameters<typeof handleSession>[0]>;

export type { StrategyName } from '../inspection';
import type { StrategyName } from '../inspection';

/** The session cookie's name: the same for every strategy. */
export const COOKIE_NAME = '__sid';
/** What browsers keep of one cookie, name and value together (RFC 6265bis). */
export const COOKIE_LIMIT = 4096;
/** The cookie strategy's cap on all of a session's cookies together (the library's default). */
export const MAX_SIZE = 7168;

const SECRET = env.SESSION_SECRET ?? 'demo-only-secret-change-me-0123456789';

/**
 * SESSION_ADAPTER picks the strategy a new visitor gets: cookie (default, chunked so that a big
 * cart fits), memory, or redis (REDIS_URL, default redis://127.0.0.1:6379). `none` is the
 * baseline for bench/http.mjs: no session library at all (see hooks.server.ts).
 */
const chosen = env.SESSION_ADAPTER ?? 'cookie';
if (!['cookie', 'memory', 'redis', 'none'].includes(chosen)) {
  throw new Error(`SESSION_ADAPTER must be cookie, memory, redis or none, got "${chosen}".`);
}
export const withoutSession = chosen === 'none';
export const defaultStrategy: StrategyName = withoutSession ? 'cookie' : (chosen as StrategyName);

async function redisAdapter(): Promise<Options['adapter']> {
  const { default: Redis } = await import('ioredis');
  const client = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  client.on('error', (error) => console.error('[demo] redis:', error.message));
  // adapter-node (and the demo's own server) emit this on SIGTERM/SIGINT once requests are done:
  // close the connection so that the process can exit.
  process.on('sveltekit:shutdown', () => client.disconnect());
  return { name: 'redis', options: { client } };
}

/** Every strategy the demo offers: cookie and memory, Redis when REDIS_URL is set (or chosen). */
export const strategyNames: StrategyName[] = withoutSession
  ? []
  : ['cookie', 'memory', ...(env.REDIS_URL || chosen === 'redis' ? (['redis'] as const) : [])];

const adapters: Record<StrategyName, () => Promise<Options['adapter']> | Options['adapter']> = {
  // The data itself travels in the signed cookie, cut into __sid, __sid.1, ... past 4 KB.
  cookie: () => ({ name: 'cookie', options: { chunk: true, maxSize: MAX_SIZE } }),
  // The data stays in this process; the cookie carries the id (and the expiry), signed.
  memory: () => ({ name: 'memory' }),
  redis: redisAdapter
};

/** What a strategy's session cookie looks like, to read it back in the "browser" panel. */
export interface Strategy {
  name: StrategyName;
  handle: SessionHook;
  /** Reads the session's cookies as the library does: null unless well-formed and signed. */
  codec: ChunkedCookieCodec;
  /** The data travels in the cookie (payload) rather than in a store (empty payload). */
  dataInCookie: boolean;
  /** The cap on all session cookies together, when the data can be chunked. */
  maxSize: number | undefined;
}

/**
 * One handleSession() per strategy, built once at start-up; hooks.server.ts hands each request to
 * the one its visitor chose. They share the cookie name and the secret, so a cookie of one is
 * signed for the others too: what differs is where the data lives.
 */
async function buildStrategies(): Promise<Map<StrategyName, Strategy>> {
  const strategies = new Map<StrategyName, Strategy>();
  for (const name of strategyNames) {
    const adapter = await adapters[name]();
    const chunk = name === 'cookie';
    const options: Options = {
      adapter,
      // In production, set SESSION_SECRET (openssl rand -base64 32). The fallback keeps the demo
      // runnable with no set-up; servers that share sessions must share the secret.
      session: { key: COOKIE_NAME, secrets: [SECRET], rolling: true },
      // `secure` is left to the library: Secure, except on plain-http loopback (localhost,
      // 127.0.0.1, [::1]) where browsers would drop it (Safari drops every Secure cookie there).
      cookie: { maxAge: 60 * 60 * 24 * 7 }
    };
    strategies.set(name, {
      name,
      handle: handleSession(options, guard),
      codec: new ChunkedCookieCodec({ cookieName: COOKIE_NAME, chunk, maxSize: MAX_SIZE }, new HmacSigner({ secrets: [SECRET] })),
      dataInCookie: name === 'cookie',
      maxSize: chunk ? MAX_SIZE : undefined
    });
  }
  return strategies;
}

/** The strategies, by name (empty with SESSION_ADAPTER=none). */
export const strategies = await buildStrategies();
