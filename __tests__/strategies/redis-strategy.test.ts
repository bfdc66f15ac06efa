/**
 * RedisStrategy against real Redis: a `redis-server` the tests start on a free port, and a
 * three-master Redis Cluster, through both clients users have (ioredis and node-redis), each
 * connected with its default options.
 */
import { execFileSync } from 'node:child_process';
import { inspect } from 'node:util';
import { jest } from '@jest/globals';
import { gate } from '../helpers/gate.js';
import { strategyConformance } from '../../src/conformance.js';
import { SessionConfigError, SessionStoreError } from '../../src/errors.js';
import { handleSession } from '../../src/handle.js';
import { RedisStrategy } from '../../src/strategies/redis-strategy.js';
import type { HandleSessionOptions } from '../../src/types.js';
import { ops, results } from '../helpers/kit-app.js';
import {
  closeClient,
  connectIoredis,
  connectIoredisCluster,
  connectNodeRedis,
  connectNodeRedisCluster,
  describeRedis,
  redisCommand,
  startRedis,
  startRedisCluster,
  type RedisCluster,
  type RedisServer
} from '../helpers/redis-server.js';
import { SECRET, sessionApp, sessionCookies } from '../helpers/session-app.js';

type Client = any;

/** Runs a raw command on either client. */
function raw(client: Client, ...args: string[]): Promise<unknown> {
  return typeof client.call === 'function' ? client.call(...args) : client.sendCommand(args);
}

const later = (ms = 3_600_000) => new Date(Date.now() + ms);

let current: RedisServer;

/** The commands the server ran while `action` did, counted by Redis itself (INFO commandstats). */
async function commandsDuring(action: () => Promise<unknown>): Promise<Record<string, number>> {
  await redisCommand(current, ['CONFIG', 'RESETSTAT']);
  await action();
  const stats = String(await redisCommand(current, ['INFO', 'commandstats']));
  const counts: Record<string, number> = {};
  for (const [, name, calls] of stats.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    if (!name.startsWith('config') && name !== 'info') counts[name] = Number(calls);
  }
  return counts;
}

describeRedis('RedisStrategy on one redis-server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = current = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });

  describe.each([
    ['ioredis', connectIoredis],
    ['node-redis', connectNodeRedis]
  ] as const)('through %s', (kind, connect) => {
    let client: Client;
    beforeAll(async () => {
      client = await connect(server);
    });
    afterAll(async () => {
      await closeClient(client);
    });
    afterEach(() => jest.restoreAllMocks());

    const adapter = (options: Record<string, unknown> = {}): HandleSessionOptions['adapter'] => ({
      name: 'redis',
      options: { client, ...options }
    });

    strategyConformance(`RedisStrategy (${kind})`, () => new RedisStrategy({ client }));

    it('keeps each session in one hash under sess:<id>, with a TTL equal to its lifetime on every write', async () => {
      const { browser, clock } = await sessionApp({ adapter: adapter(), cookie: { maxAge: 600 } });
      const b = browser();
      await b.get(`/page${ops(['set', 'user', { name: 'ann' }], ['flash', 'msg', 'hi'])}`);
      const [id] = (await results(await b.get(`/page${ops(['id'])}`))) as [string];
      const key = `sess:${id}`;
      expect(await raw(client, 'TYPE', key)).toBe('hash');
      expect(Number(await raw(client, 'PTTL', key))).toBeGreaterThan(590_000);
      clock.advance(300);
      await raw(client, 'PEXPIRE', key, '1000000');
      await b.get(`/page${ops(['set', 'n', 1])}`);
      const ttl = Number(await raw(client, 'PTTL', key));
      expect(ttl).toBeGreaterThan(590_000);
      expect(ttl).toBeLessThanOrEqual(600_000);
    });

    it('concurrent requests changing different keys of one session both keep their change', async () => {
      const { handle, release } = gate();
      const { browser } = await sessionApp({ adapter: adapter() }, handle);
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 0], ['set', 'b', 0])}`);
      const slow = b.get(`/api${ops(['set', 'a', 1])}&hold`);
      expect((await b.get(`/api${ops(['set', 'b', 2])}`)).status).toBe(200);
      release();
      expect((await slow).status).toBe(200);
      expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{ a: 1, b: 2 }]);
    });

    it('fifty concurrent changes to one record are all kept', async () => {
      const strategy = new RedisStrategy({ client });
      const id = await strategy.createData({ start: true }, later());
      const kept = await Promise.all(
        Array.from({ length: 50 }, (_, i) => strategy.applyChanges(id, new Map([[`k${i}`, i]]), later()))
      );
      expect(kept.every(Boolean)).toBe(true);
      const record = (await strategy.readData(id))!;
      expect(Object.keys(record)).toHaveLength(51);
    });

    it('a log-in with session.userId costs a bounded number of commands, however many sessions the user has indexed', async () => {
      const userKey = 'sess:user:u-many';
      await raw(client, 'DEL', userKey);
      // 3,000 ended sessions in the user's index (a user who logged in 3,000 times).
      for (let i = 0; i < 3000; i += 500) {
        await raw(client, 'SADD', userKey, ...Array.from({ length: 500 }, (_, j) => `ended${String(i + j).padStart(20, '0')}`));
      }
      const { browser } = await sessionApp({ adapter: adapter(), session: { userId: (data) => data.user } });
      const counts = await commandsDuring(() => browser().get(`/page${ops(['set', 'user', 'u-many'])}`));
      // Scripts: the create, one sample, at most 16 EXISTS (sent together: one round trip), the
      // index update; the commands they run inside are bounded the same way.
      expect(counts.eval).toBeLessThanOrEqual(1 + 1 + 16 + 1);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(64);
      expect(Number(await raw(client, 'SCARD', userKey))).toBe(3000 - 16 + 1);
      await raw(client, 'DEL', userKey);
    });

    it("bounds a request's whole time on Redis by the timeout, not each command", async () => {
      const strategy = new RedisStrategy({ client, timeout: 600 });
      const context = { event: {} } as never;
      const id = await strategy.createData({ a: 1 }, later(), context);
      // Each command answers, but only after 250 ms (a slow link): three of them are 750 ms.
      const slowly = <T>(value: Promise<T>) => new Promise<T>((resolve, reject) => setTimeout(() => value.then(resolve, reject), 250));
      const fresh = { event: {} } as never;
      const slowClient = new Proxy(client, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver);
          return typeof value === 'function' && ['eval', 'hgetall', 'hGetAll', 'del', 'pexpire', 'pExpire'].includes(String(name))
            ? (...args: unknown[]) => slowly(value.apply(target, args))
            : value;
        }
      });
      const slow = new RedisStrategy({ client: slowClient, timeout: 600 });
      await expect(slow.readData(id, fresh)).resolves.toEqual({ a: 1 });
      await expect(slow.readData(id, fresh)).resolves.toEqual({ a: 1 });
      await expect(slow.readData(id, fresh)).rejects.toThrow(/this request's time on Redis in all|in this request already/);
      // Another request has its own budget; a call outside any request, a whole timeout.
      await expect(slow.readData(id, { event: {} } as never)).resolves.toEqual({ a: 1 });
      await expect(slow.readData(id)).resolves.toEqual({ a: 1 });
    });

    it('a request in flight cannot bring back a destroyed session by regenerate(): it ends anonymous, and no record is left', async () => {
      const { handle, release } = gate();
      const { browser } = await sessionApp({ adapter: adapter() }, handle);
      const b = browser();
      await b.get(`/page${ops(['set', 'user', 'victim'])}`);
      const before = Number(await raw(client, 'DBSIZE'));
      const stolen = browser();
      stolen.setCookie('__sid', b.cookies().__sid);
      const inFlight = stolen.get(`/api${ops(['regenerate'], ['id'], ['get', 'user'])}&hold`);
      await b.get(`/api${ops(['destroy'])}`);
      release();
      const late = await inFlight;
      expect(late.status).toBe(200);
      expect(await results(late)).toEqual([null, '', null]);
      expect(sessionCookies(late)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
      expect(Number(await raw(client, 'DBSIZE'))).toBe(before - 1);
      expect(await results(await stolen.get(`/page${ops(['get', 'user'])}`))).toEqual([null]);
    });

    it('a request in flight cannot bring back a session destroyed meanwhile', async () => {
      const { handle, release } = gate();
      const { browser } = await sessionApp({ adapter: adapter() }, handle);
      const b = browser();
      await b.get(`/page${ops(['set', 'user', 'ann'])}`);
      const [id] = (await results(await b.get(`/page${ops(['id'])}`))) as [string];
      const stolen = b.cookies().__sid;
      const inFlight = b.get(`/api${ops(['set', 'cart', 3])}&hold`);
      await b.get(`/api${ops(['destroy'])}`);
      release();
      const late = await inFlight;
      expect(late.status).toBe(200);
      expect(sessionCookies(late)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
      expect(await raw(client, 'EXISTS', `sess:${id}`)).toBe(0);
      const replay = browser();
      replay.setCookie('__sid', stolen);
      expect(await results(await replay.get(`/page${ops(['data'], ['id'])}`))).toEqual([{}, '']);
    });

    it('a session whose keys were all removed still takes a concurrent change', async () => {
      const strategy = new RedisStrategy({ client });
      const id = await strategy.createData({ a: 1 }, later());
      expect(await strategy.applyChanges(id, new Map([['a', undefined]]), later())).toBe(true);
      expect(await strategy.applyChanges(id, new Map([['b', 2]]), later())).toBe(true);
      expect(await strategy.readData(id)).toEqual({ b: 2 });
    });

    it('a read is one HGETALL; a write one HGETALL and one EVAL; a rolling refresh one HGETALL and one PEXPIRE', async () => {
      const { browser, clock } = await sessionApp({ adapter: adapter(), cookie: { maxAge: 3600 }, session: { rolling: true } });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      const [id] = (await results(await b.get(`/page${ops(['id'])}`))) as [string];

      expect(await commandsDuring(() => b.get(`/page${ops(['get', 'a'])}`))).toEqual({ hgetall: 1 });
      // Redis also counts the commands the script ran (EXISTS, HSET, HDEL, PEXPIRE); the client sent two.
      const write = await commandsDuring(() => b.get(`/api${ops(['set', 'b', 2], ['unset', 'a'], ['flash', 'm', 'x'])}`));
      expect(write).toMatchObject({ hgetall: 1, eval: 1 });
      expect(Object.keys(write).filter((name) => !['hgetall', 'eval', 'exists', 'hset', 'hdel', 'pexpire'].includes(name))).toEqual([]);

      clock.advance(120);
      const key = `sess:${id}`;
      await raw(client, 'PEXPIRE', key, '5000');
      let refreshed: Response | undefined;
      expect(await commandsDuring(async () => (refreshed = await b.get(`/page${ops(['get', 'b'])}`)))).toEqual({ hgetall: 1, pexpire: 1 });
      expect(sessionCookies(refreshed!)).toHaveLength(1);
      expect(Number(await raw(client, 'PTTL', key))).toBeGreaterThan(3_500_000);
    });

    it('answers garbage in the store with 503, never with an empty session', async () => {
      const logged = jest.spyOn(console, 'error').mockImplementation(() => {});
      const { browser } = await sessionApp({ adapter: adapter() });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      const [id] = (await results(await b.get(`/page${ops(['id'])}`))) as [string];
      await raw(client, 'HSET', `sess:${id}`, 'a', '{not json');
      expect((await b.get(`/page${ops(['get', 'a'])}`)).status).toBe(503);
      await raw(client, 'DEL', `sess:${id}`);
      await raw(client, 'SET', `sess:${id}`, 'a string');
      expect((await b.get(`/page${ops(['get', 'a'])}`)).status).toBe(503);
      const causes = logged.mock.calls.map(([e]) => ((e as SessionStoreError).cause as Error).message);
      expect(causes[0]).toMatch(/Redis key "sess:[A-Za-z0-9_-]{4}…" holds 9 characters in field "a" that are not a JSON value/);
      expect(causes[1]).toMatch(/WRONGTYPE/);
      // Neither the session id (a bearer secret) nor what the record holds reaches the log, not
      // even through the command ioredis attaches to its errors.
      const printed = inspect(logged.mock.calls, { depth: 10 });
      expect(printed).not.toContain(id);
      expect(printed).not.toContain('not json');
    });

    it('uses the configured prefix', async () => {
      const strategy = new RedisStrategy({ client, prefix: 'shop:sess:' });
      const id = await strategy.createData({ a: 1 }, later());
      expect(await raw(client, 'EXISTS', `shop:sess:${id}`)).toBe(1);
    });
  });

  describe.each([
    ['ioredis', connectIoredis],
    ['node-redis', connectNodeRedis]
  ] as const)('when Redis goes away, through %s', (kind, connect) => {
    let client: Client;
    let logged: jest.SpiedFunction<typeof console.error>;
    beforeEach(async () => {
      logged = jest.spyOn(console, 'error').mockImplementation(() => {});
      client = await connect(server);
    });
    afterEach(async () => {
      server.resume();
      logged.mockRestore();
      await closeClient(client);
      // A test that failed half-way may leave the server stopped: the next ones need it.
      if ((await redisCommand(server, ['PING'], 500).catch(() => null)) !== 'PONG') await server.restart();
    });

    it('a server that stops answering fails the request with 503 within the timeout, and it recovers', async () => {
      const { browser } = await sessionApp({ adapter: { name: 'redis', options: { client, timeout: 500 } } });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      server.pause();
      const started = Date.now();
      const response = await b.get(`/page${ops(['get', 'a'])}`);
      const waited = Date.now() - started;
      expect(response.status).toBe(503);
      expect(waited).toBeGreaterThanOrEqual(450);
      expect(waited).toBeLessThan(1500);
      expect(logged.mock.calls[0][0]).toBeInstanceOf(SessionStoreError);
      expect(String(((logged.mock.calls[0][0] as Error).cause as Error).message)).toMatch(/did not answer within 500 ms/);
      server.resume();
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
    });

    it('by default gives up after 2 s', async () => {
      const { browser } = await sessionApp({ adapter: { name: 'redis', options: { client } } });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      server.pause();
      const started = Date.now();
      expect((await b.get(`/page${ops(['get', 'a'])}`)).status).toBe(503);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(1900);
      expect(waited).toBeLessThan(4000);
    });

    it(`a stopped server gives 503 at once, leaves nothing in ${kind}'s offline queue, and the same process recovers`, async () => {
      const { browser } = await sessionApp({ adapter: { name: 'redis', options: { client, timeout: 500 } } });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);

      await server.stop();
      // Wait until the client has noticed. A command sent in the instant the connection dropped
      // can still be resent by the client after it reconnects (its outcome is unknown, as with
      // any timeout); what must never happen is a command queued while the client is known down.
      for (let i = 0; i < 200 && (client.status === 'ready' || client.isReady === true); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const first = Date.now();
      expect((await browser().get(`/api${ops(['set', 'lost', 1])}`)).status).toBe(503);
      expect(Date.now() - first).toBeLessThan(1500);
      // Once the client was seen down for a whole timeout, requests fail without waiting.
      const second = Date.now();
      expect((await browser().get(`/api${ops(['set', 'lost', 2])}`)).status).toBe(503);
      expect(Date.now() - second).toBeLessThan(400);

      await server.restart();
      let recovered: unknown[] | undefined;
      for (let i = 0; i < 100 && !recovered; i++) {
        const response = await b.get(`/page${ops(['get', 'a'])}`);
        if (response.status === 200) recovered = await results(response);
        else await new Promise((r) => setTimeout(r, 100));
      }
      // The restarted server kept nothing (no persistence), so the old session reads as empty...
      expect(recovered).toEqual([null]);
      // ...and the two writes that failed were not replayed from a queue when the client reconnected.
      await new Promise((r) => setTimeout(r, 300));
      expect(await redisCommand(server, ['DBSIZE'])).toBe(0);
      const fresh = browser();
      await fresh.get(`/page${ops(['set', 'again', 1])}`);
      expect(await results(await fresh.get(`/page${ops(['get', 'again'])}`))).toEqual([1]);
      expect(await redisCommand(server, ['DBSIZE'])).toBe(1);
    }, 30_000);
  });

  it('refuses a missing or unknown client when handleSession() is called, naming both clients', () => {
    for (const client of [undefined, {}, { get() {} }]) {
      expect(() => handleSession({ adapter: { name: 'redis', options: { client } as never }, session: { secrets: [SECRET] } })).toThrow(SessionConfigError);
    }
    expect(() => handleSession({ adapter: { name: 'redis', options: {} as never }, session: { secrets: [SECRET] } })).toThrow(/ioredis.*node-redis/);
  });

  it('refuses a timeout that is not a positive number of milliseconds', async () => {
    const client = await connectIoredis(server);
    try {
      for (const timeout of [0, -1, '2s', Infinity]) {
        expect(() => new RedisStrategy({ client, timeout: timeout as number })).toThrow(/timeout.*milliseconds/);
      }
    } finally {
      await closeClient(client);
    }
  });

  it('a node-redis client that was never connected fails with a message naming connect()', async () => {
    const logged = jest.spyOn(console, 'error').mockImplementation(() => {});
    const { createClient } = await import('redis');
    const client = createClient({ url: server.url });
    try {
      const { browser } = await sessionApp({ adapter: { name: 'redis', options: { client } } });
      expect((await browser().get(`/api${ops(['set', 'a', 1])}`)).status).toBe(503);
      expect(((logged.mock.calls[0][0] as Error).cause as Error).message).toMatch(/await client\.connect\(\)/);
    } finally {
      logged.mockRestore();
    }
  });
});

describeRedis('RedisStrategy on a three-master Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  describe.each([
    ['ioredis', connectIoredisCluster],
    ['node-redis', connectNodeRedisCluster]
  ] as const)('through %s cluster mode', (kind, connect) => {
    let client: Client;
    beforeAll(async () => {
      client = await connect(cluster);
    });
    afterAll(async () => {
      await closeClient(client);
    });

    strategyConformance(`RedisStrategy (${kind} cluster)`, () => new RedisStrategy({ client }));

    it('sessions spread over the masters and work through SvelteKit, concurrent changes kept', async () => {
      const { handle, release } = gate();
      await cluster.flush();
      const { browser } = await sessionApp({ adapter: { name: 'redis', options: { client } } }, handle);
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const b = browser();
        await b.get(`/page${ops(['set', 'n', i])}`);
        ids.push(((await results(await b.get(`/page${ops(['id'])}`))) as [string])[0]);
      }
      // Each master holds some of them: the keys really are spread over the cluster's slots.
      const perNode = cluster.nodes.map(({ port }) => Number(execFileSync('redis-cli', ['-p', String(port), 'DBSIZE'], { encoding: 'utf8' }).trim()));
      expect(perNode.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 0], ['set', 'b', 0])}`);
      const slow = b.get(`/api${ops(['set', 'a', 1])}&hold`);
      await b.get(`/api${ops(['set', 'b', 2])}`);
      release();
      expect((await slow).status).toBe(200);
      expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{ a: 1, b: 2 }]);
      expect(new Set(ids).size).toBe(12);
    });
  });
});
