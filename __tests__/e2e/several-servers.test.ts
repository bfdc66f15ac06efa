/**
 * One session served by several server processes (the demo built with adapter-node, twice),
 * with requests alternating between them: through one Redis, and through the cookie strategy
 * with a shared secret.
 */
import { describeRedis, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { CookieClient, startApp, type AppServer } from '../helpers/demo-server.js';

const SECRET = 'several-servers-secret-0123456789abcdef';

/** The demo page's counter, or undefined when the page has none. */
async function views(response: Response): Promise<number | undefined> {
  const match = /id="views">(\d+)</.exec(await response.text());
  return match ? Number(match[1]) : undefined;
}

/** Text of the demo's flash message and signed-in user on a page, if any. */
async function header(response: Response): Promise<{ flash?: string; user?: string; cart?: number }> {
  const html = await response.text();
  return {
    flash: /id="flash"[^>]*>([^<]*)</.exec(html)?.[1],
    user: /id="user">Signed in as <strong>([^<]*)</.exec(html)?.[1],
    cart: Number(/Cart \((\d+)\)/.exec(html)?.[1])
  };
}

/** The checks both set-ups must pass: every request goes to the other server than the last. */
function alternatingChecks(servers: () => [AppServer, AppServer]) {
  it('a visit counter goes up across requests alternating between the two servers', async () => {
    const [a, b] = servers();
    const client = new CookieClient();
    const seen: Array<number | undefined> = [];
    for (const server of [a, b, a, b, a]) {
      const response = await client.request(server.origin, '/');
      expect(response.status).toBe(200);
      seen.push(await views(response));
    }
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('log-in on one server is seen on the other, its flash shown once, and log-out on the other ends it', async () => {
    const [a, b] = servers();
    const client = new CookieClient();
    await client.request(a.origin, '/');
    const login = await client.request(a.origin, '/login', { name: 'ann' });
    expect(login.status).toBe(303);

    expect(await header(await client.request(b.origin, '/'))).toMatchObject({ flash: 'Welcome, ann!', user: 'ann' });
    expect(await header(await client.request(a.origin, '/'))).toMatchObject({ flash: undefined, user: 'ann' });

    expect((await client.request(b.origin, '/cart?/add', { item: 'tea', qty: '2' })).status).toBeLessThan(400);
    expect(await header(await client.request(a.origin, '/cart'))).toMatchObject({ cart: 1, user: 'ann' });

    expect((await client.request(b.origin, '/logout', {})).status).toBe(303);
    expect(await header(await client.request(a.origin, '/'))).toMatchObject({ flash: 'You are signed out.', user: undefined, cart: 0 });
  });
}

describeRedis('two demo servers sharing one Redis', () => {
  let redis: RedisServer;
  let a: AppServer;
  let b: AppServer;
  beforeAll(async () => {
    redis = await startRedis();
    const env = { SESSION_ADAPTER: 'redis', REDIS_URL: redis.url, SESSION_SECRET: SECRET };
    [a, b] = await Promise.all([startApp({ env }), startApp({ env })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  alternatingChecks(() => [a, b]);

  it('keeps the sessions in Redis, not in the processes', async () => {
    const client = new CookieClient();
    await client.request(a.origin, '/');
    const { redisCommand } = await import('../helpers/redis-server.js');
    const keys = (await redisCommand(redis, ['DBSIZE'])) as number;
    expect(keys).toBeGreaterThan(0);
    await redis.flush();
    // With the record gone, the next server starts a fresh session.
    expect(await views(await client.request(b.origin, '/'))).toBe(1);
  });
});

describe('two demo servers on the cookie strategy, sharing a secret', () => {
  let a: AppServer;
  let b: AppServer;
  let other: AppServer;
  beforeAll(async () => {
    const env = { SESSION_ADAPTER: 'cookie', SESSION_SECRET: SECRET };
    [a, b, other] = await Promise.all([
      startApp({ env }),
      startApp({ env }),
      startApp({ env: { SESSION_ADAPTER: 'cookie', SESSION_SECRET: 'another-secret-0123456789abcdefghijk' } })
    ]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), other?.stop()]);
  });

  alternatingChecks(() => [a, b]);

  it('a server with another secret does not accept the session: it starts a fresh one', async () => {
    const client = new CookieClient();
    await client.request(a.origin, '/');
    await client.request(b.origin, '/');
    expect(await views(await client.request(other.origin, '/'))).toBe(1);
  });
});
