/**
 * CloudflareKVStrategy against a real Workers KV namespace: Miniflare 3 runs Cloudflare's workerd
 * locally, and its KV binding is handed to the strategy from Node. The strategy runs inside
 * workerd too: see __tests__/workerd.
 */
import { inspect } from 'node:util';
import { jest } from '@jest/globals';
import { Miniflare } from 'miniflare';
import { strategyConformance } from '../../src/conformance.js';
import { SessionConfigError, SessionStoreError } from '../../src/errors.js';
import { handleSession } from '../../src/handle.js';
import { CloudflareKVStrategy } from '../../src/strategies/cloudflare-kv-strategy.js';
import type { KVNamespaceLike, HandleSessionOptions } from '../../src/types.js';
import { ops, results } from '../helpers/kit-app.js';
import { SECRET, sessionApp, sessionCookies } from '../helpers/session-app.js';

let mf: Miniflare;
let kv: KVNamespaceLike & { list(options?: { prefix?: string }): Promise<{ keys: Array<{ name: string; expiration?: number }> }> };

beforeAll(async () => {
  mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null); } }',
    kvNamespaces: ['SESSIONS']
  });
  kv = (await mf.getKVNamespace('SESSIONS')) as unknown as typeof kv;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
});

/** Every key of the namespace, so tests can clear it between cases. */
async function clear(): Promise<void> {
  for (const { name } of (await kv.list()).keys) await kv.delete(name);
}

/** The real binding, with each put recorded (key, TTL and the real time it happened). */
function recorded() {
  const puts: Array<{ key: string; ttl: number | undefined; at: number }> = [];
  const deletes: string[] = [];
  const binding: KVNamespaceLike = {
    get: (key, type) => kv.get(key, type),
    async put(key, value, options) {
      puts.push({ key, ttl: options?.expirationTtl, at: Date.now() });
      await kv.put(key, value, options);
    },
    async delete(key) {
      deletes.push(key);
      await kv.delete(key);
    }
  };
  return { binding, puts, deletes };
}

const platformWith = (binding: KVNamespaceLike) => ({ env: { SESSIONS: binding } }) as unknown as App.Platform;
const kvAdapter: HandleSessionOptions['adapter'] = { name: 'cloudflare-kv', options: { namespace: 'SESSIONS' } };

strategyConformance('CloudflareKVStrategy on Miniflare KV', () => new CloudflareKVStrategy({ namespace: 'SESSIONS' }), {
  context: () => ({ event: { platform: platformWith(kv) } }) as never
});

describe('CloudflareKVStrategy', () => {
  beforeEach(clear);

  it('raises TTLs below KV’s 60-second minimum, which real KV refuses, and otherwise keeps the lifetime', async () => {
    await expect(kv.put('direct', 'x', { expirationTtl: 5 })).rejects.toThrow(/60/);
    const { binding, puts } = recorded();
    const strategy = new CloudflareKVStrategy({ namespace: 'SESSIONS' });
    const context = { event: { platform: platformWith(binding) } } as never;
    const short = await strategy.createData({ a: 1 }, new Date(Date.now() + 5_000), context);
    const long = await strategy.createData({ a: 2 }, new Date(Date.now() + 7_200_000), context);
    expect(puts.map((p) => p.ttl)).toEqual([60, 7200]);
    expect(await strategy.readData(short, context)).toEqual({ a: 1 });
    const expirations = Object.fromEntries((await kv.list()).keys.map((k) => [k.name, k.expiration]));
    expect(expirations[`sess:${long}`]! - Date.now() / 1000).toBeGreaterThan(7190);
  });

  it('keeps records under `prefix` + id', async () => {
    const strategy = new CloudflareKVStrategy({ namespace: 'SESSIONS', prefix: 'app1:' });
    const context = { event: { platform: platformWith(kv) } } as never;
    const id = await strategy.createData({ a: 1 }, new Date(Date.now() + 60_000), context);
    expect((await kv.list()).keys.map((k) => k.name)).toEqual([`app1:${id}`]);
  });

  it('refuses a missing or empty namespace option when handleSession() is called', () => {
    expect(() => handleSession({ adapter: { name: 'cloudflare-kv', options: {} as never }, session: { secrets: [SECRET] } })).toThrow(SessionConfigError);
    expect(() => handleSession({ adapter: { name: 'cloudflare-kv', options: {} as never }, session: { secrets: [SECRET] } })).toThrow(/adapter\.options\.namespace.*wrangler\.toml/s);
  });
});

describe('CloudflareKVStrategy through SvelteKit', () => {
  beforeEach(clear);
  afterEach(() => jest.restoreAllMocks());

  it('a session lives in KV: one key, its lifetime as TTL; destroy deletes it', async () => {
    const { binding } = recorded();
    const { browser, clock } = await sessionApp({ adapter: kvAdapter, cookie: { maxAge: 3600 } }, undefined, undefined, platformWith(binding));
    const b = browser();
    await b.get(`/page${ops(['incr', 'views'])}`);
    await b.get(`/page${ops(['incr', 'views'])}`);
    expect(await results(await b.get(`/page${ops(['get', 'views'])}`))).toEqual([2]);
    const { keys } = await kv.list();
    expect(keys).toHaveLength(1);
    expect(keys[0].name).toMatch(/^sess:[A-Za-z0-9_-]{24}$/);
    expect(JSON.parse((await kv.get(keys[0].name, 'text'))!)).toEqual({ views: 2 });
    expect(keys[0].expiration! - clock.now() / 1000).toBeGreaterThan(3500);

    await b.get(`/api${ops(['destroy'])}`);
    expect((await kv.list()).keys).toEqual([]);
  });

  it('a plain read never writes', async () => {
    const { binding, puts, deletes } = recorded();
    const { browser } = await sessionApp({ adapter: kvAdapter }, undefined, undefined, platformWith(binding));
    const b = browser();
    await b.get(`/page${ops(['set', 'user', 'ann'])}`);
    expect(puts).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      const read = await b.get(`/page${ops(['get', 'user'], ['data'])}`);
      expect(sessionCookies(read)).toEqual([]);
    }
    expect(puts).toHaveLength(1);
    expect(deletes).toEqual([]);
  });

  it('rolling refresh writes the key once, however many requests arrive in the same second', async () => {
    const { binding, puts } = recorded();
    const { browser, clock } = await sessionApp(
      { adapter: kvAdapter, cookie: { maxAge: 3600 }, session: { rolling: true } },
      undefined,
      undefined,
      platformWith(binding)
    );
    const b = browser();
    await b.get(`/page${ops(['set', 'user', 'ann'])}`);
    await new Promise((r) => setTimeout(r, 1000));
    clock.advance(120);
    const parallel = await Promise.all(Array.from({ length: 5 }, () => b.get(`/page${ops(['get', 'user'])}`)));
    expect(parallel.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(puts).toHaveLength(2);
    expect(await results(await b.get(`/page${ops(['get', 'user'])}`))).toEqual(['ann']);
  });

  it('spaces writes of one key at least a second apart, keeping every change', async () => {
    const { binding, puts } = recorded();
    const { browser } = await sessionApp({ adapter: kvAdapter }, undefined, undefined, platformWith(binding));
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    await b.get(`/api${ops(['set', 'b', 2])}`);
    await b.get(`/api${ops(['set', 'c', 3])}`);
    expect(puts).toHaveLength(3);
    expect(puts[1].at - puts[0].at).toBeGreaterThanOrEqual(995);
    expect(puts[2].at - puts[1].at).toBeGreaterThanOrEqual(995);
    expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{ a: 1, b: 2, c: 3 }]);
  });

  it('regenerate moves the data to a new key and deletes the old one', async () => {
    const { browser } = await sessionApp({ adapter: kvAdapter }, undefined, undefined, platformWith(kv));
    const b = browser();
    await b.get(`/page${ops(['set', 'cart', 1])}`);
    const [before] = (await kv.list()).keys.map((k) => k.name);
    await b.get(`/api${ops(['regenerate'], ['set', 'user', 'ann'])}`);
    const after = (await kv.list()).keys.map((k) => k.name);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
    expect(JSON.parse((await kv.get(after[0], 'text'))!)).toEqual({ cart: 1, user: 'ann' });
  });

  it('a missing binding fails the request with an error naming it and the wrangler configuration', async () => {
    for (const platform of [undefined, { env: {} } as unknown as App.Platform]) {
      const { app, browser } = await sessionApp({ adapter: kvAdapter }, undefined, undefined, platform);
      const response = await browser().get(`/api${ops(['set', 'a', 1])}`);
      expect(response.status).toBe(500);
      const [recorded] = app.errors();
      expect(recorded.error).toBeInstanceOf(SessionConfigError);
      expect((recorded.error as Error).message).toMatch(/"SESSIONS".*\[\[kv_namespaces\]\]\nbinding = "SESSIONS"/s);
      expect((recorded.error as Error).message).toContain(platform ? 'event.platform.env.SESSIONS` is missing' : '`event.platform.env` is not there');
    }
  });

  it('a record that is not JSON is a store failure (503), not an empty session', async () => {
    const logged = jest.spyOn(console, 'error').mockImplementation(() => {});
    const { browser } = await sessionApp({ adapter: kvAdapter }, undefined, undefined, platformWith(kv));
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    const [{ name }] = (await kv.list()).keys;
    await kv.put(name, 'not json', { expirationTtl: 600 });
    const response = await b.get(`/page${ops(['get', 'a'])}`);
    expect(response.status).toBe(503);
    expect(logged.mock.calls[0][0]).toBeInstanceOf(SessionStoreError);
    const cause = (logged.mock.calls[0][0] as Error).cause as Error;
    expect(cause.message).toMatch(/Workers KV key "sess:[A-Za-z0-9_-]{4}…" holds 8 characters that are not a session record/);
    // Neither the session id (a bearer secret) nor what the record holds reaches the log.
    const id = name.slice('sess:'.length);
    expect(inspect(logged.mock.calls, { depth: 10 })).not.toContain(id);
    expect(inspect(logged.mock.calls, { depth: 10 })).not.toContain('not json');
  });
});
