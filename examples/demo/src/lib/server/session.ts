import type { SessionOptions } from '@svelte-dev/session';

// process.env rather than $env/dynamic/private: the same code then runs on SvelteKit 2 and 3
// (SvelteKit 3's $env modules only expose variables declared in src/env.ts).
const env = process.env;

/**
 * The demo's session options. SESSION_ADAPTER picks the strategy: cookie (default, chunked so
 * that a big cart fits), memory, or redis (REDIS_URL, default redis://127.0.0.1:6379). `none` is
 * the baseline for bench/http.mjs: no session library (see hooks.server.ts).
 */
export const withoutSession = env.SESSION_ADAPTER === 'none';

async function adapter(): Promise<SessionOptions['adapter']> {
  const name = env.SESSION_ADAPTER ?? 'cookie';
  switch (name) {
    case 'cookie':
      return { name: 'cookie', options: { chunk: true } };
    case 'memory':
      return { name: 'memory' };
    case 'redis': {
      const { default: Redis } = await import('ioredis');
      const client = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      client.on('error', (error) => console.error('[demo] redis:', error.message));
      // adapter-node emits this on SIGTERM/SIGINT once requests are done: close the connection
      // so that the process can exit.
      process.on('sveltekit:shutdown', () => client.disconnect());
      return { name: 'redis', options: { client } };
    }
    default:
      throw new Error(`SESSION_ADAPTER must be cookie, memory, redis or none, got "${name}".`);
  }
}

export const sessionOptions: SessionOptions = {
  // Unused with SESSION_ADAPTER=none: hooks.server.ts then never calls handleSession.
  adapter: withoutSession ? { name: 'memory' } : await adapter(),
  // In production, set SESSION_SECRET (openssl rand -base64 32). The fallback keeps the demo
  // runnable with no set-up; servers that share sessions must share the secret.
  session: { secrets: [env.SESSION_SECRET ?? 'demo-only-secret-change-me-0123456789'], rolling: true },
  cookie: { maxAge: 60 * 60 * 24 * 7 }
};
