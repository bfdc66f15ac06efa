/**
 * Smoke test of the Redis harness (./redis-server.ts) against real redis-server processes. The
 * RedisStrategy tests rely on what is checked here: that a server is really fresh, really gone
 * after stop(), comes back on the same port after restart() (and the clients find it again on
 * their own), and that pause() gives a server that takes connections but never answers.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import {
  closeClient,
  connectIoredis,
  connectIoredisCluster,
  connectNodeRedis,
  connectNodeRedisCluster,
  describeRedis,
  redisBinaries,
  redisCommand,
  startRedis,
  startRedisCluster,
  type NodeRedisClient,
  type NodeRedisCluster,
  type RedisCluster,
  type RedisServer
} from './redis-server.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The promise's outcome, or 'no answer' when it takes longer than `ms` (the timer is cleared). */
const within = async <T>(promise: Promise<T>, ms: number): Promise<T | 'no answer'> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'no answer'>((resolve) => (timer = setTimeout(() => resolve('no answer'), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Retries `attempt` until it succeeds, for at most `timeoutMs`: how a test waits for a client to
 * find a restarted server without knowing the client's reconnect schedule.
 */
const eventually = async <T>(attempt: () => Promise<T>, timeoutMs = 10_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const result = await within(attempt(), 1_000);
      if (result !== 'no answer') return result;
      if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms`);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await sleep(50);
  }
};

/** 'connected', or the error code of a TCP connect to the port (ECONNREFUSED when nothing listens). */
const tcpConnect = (port: number): Promise<string> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });

const runId = async (server: { host: string; port: number }) =>
  /^run_id:(\w+)/m.exec(String(await redisCommand(server, ['INFO', 'server'])))?.[1];

describeRedis('Redis test harness', () => {
  it('finds redis-server and redis-cli, and reports them missing when SESSION_TEST_REDIS_SERVER points nowhere', () => {
    const binaries = redisBinaries();
    expect(path.basename(binaries!.server)).toBe('redis-server');
    expect(path.basename(binaries!.cli)).toBe('redis-cli');
    const saved = process.env.SESSION_TEST_REDIS_SERVER;
    try {
      process.env.SESSION_TEST_REDIS_SERVER = '/nonexistent/redis-server';
      expect(redisBinaries()).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.SESSION_TEST_REDIS_SERVER;
      else process.env.SESSION_TEST_REDIS_SERVER = saved;
    }
  });

  describe('startRedis()', () => {
    let server: RedisServer;
    let io: Redis | undefined;
    let nr: NodeRedisClient | undefined;

    beforeAll(async () => {
      server = await startRedis();
      io = await connectIoredis(server);
      nr = await connectNodeRedis(server);
    });
    afterAll(async () => {
      closeClient(io);
      closeClient(nr);
      await server?.stop();
    });

    it('runs on 127.0.0.1 with nothing persisted, in a temp dir of its own', async () => {
      expect(server.host).toBe('127.0.0.1');
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
      const config = await nr!.configGet('*');
      expect(config).toMatchObject({ bind: '127.0.0.1', save: '', appendonly: 'no', 'protected-mode': 'no' });
      expect(path.dirname(config.dir)).toBe(fs.realpathSync(os.tmpdir()));
      expect(fs.existsSync(config.dir)).toBe(true);
    });

    it('serves SET/GET through ioredis and node-redis alike', async () => {
      await io!.set('harness:io', 'from ioredis');
      await nr!.set('harness:nr', 'from node-redis');
      await expect(nr!.get('harness:io')).resolves.toBe('from ioredis');
      await expect(io!.get('harness:nr')).resolves.toBe('from node-redis');
    });

    it('flush() empties it', async () => {
      await io!.set('harness:flush', '1');
      await server.flush();
      await expect(io!.dbsize()).resolves.toBe(0);
    });

    it('restart() comes back empty on the same port, and both clients reconnect by themselves', async () => {
      await io!.set('harness:before-restart', '1');
      const port = server.port;
      const before = await runId(server);

      await server.restart();

      expect(server.port).toBe(port);
      const after = await runId(server);
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      // Same clients, no reconnect call: each must find the new server on its own.
      await expect(eventually(() => io!.get('harness:before-restart'))).resolves.toBeNull();
      await expect(eventually(() => nr!.get('harness:before-restart'))).resolves.toBeNull();
      await io!.set('harness:after-restart', 'io');
      await expect(nr!.get('harness:after-restart')).resolves.toBe('io');
    });

    it('pause() takes connections but answers nothing until resume()', async () => {
      await io!.set('harness:pause', 'kept');
      server.pause();
      try {
        expect(await tcpConnect(server.port)).toBe('connected');
        await expect(redisCommand(server, ['PING'], 300)).rejects.toThrow(/no reply within 300 ms/);
        const ioGet = io!.get('harness:pause');
        const nrGet = nr!.get('harness:pause');
        const [ioEarly, nrEarly] = await Promise.all([within(ioGet, 500), within(nrGet, 500)]);
        expect(ioEarly).toBe('no answer');
        expect(nrEarly).toBe('no answer');
        server.resume();
        // The commands were not lost: they are answered once the server runs again.
        await expect(within(ioGet, 2_000)).resolves.toBe('kept');
        await expect(within(nrGet, 2_000)).resolves.toBe('kept');
      } finally {
        server.resume();
      }
    });

    it('stop() ends the process: the port refuses connections and the temp dir is gone', async () => {
      const { dir } = await nr!.configGet('dir');
      closeClient(io);
      closeClient(nr);
      server.pause(); // stop() must also end a paused server
      await server.stop();
      expect(await tcpConnect(server.port)).toBe('ECONNREFUSED');
      expect(fs.existsSync(dir)).toBe(false);
      await expect(server.stop()).resolves.toBeUndefined();
      await expect(server.flush()).rejects.toThrow(/not running/);
    });
  });

  describe('startRedisCluster()', () => {
    let cluster: RedisCluster;
    let io: Cluster | undefined;
    let nr: NodeRedisCluster | undefined;
    /** Enough keys that each of the three slot ranges gets some (CRC16 is fixed, so always the same). */
    const keys = Array.from({ length: 12 }, (_, i) => `harness:cluster:${i}`);

    beforeAll(async () => {
      cluster = await startRedisCluster();
      io = await connectIoredisCluster(cluster);
      nr = await connectNodeRedisCluster(cluster);
    });
    afterAll(async () => {
      closeClient(io);
      closeClient(nr);
      await cluster?.stop();
    });

    it('has three masters that split the slots', async () => {
      expect(cluster.nodes).toHaveLength(3);
      expect(new Set(cluster.nodes.map((n) => n.port)).size).toBe(3);
      for (const node of cluster.nodes) {
        const info = String(await redisCommand(node, ['CLUSTER', 'INFO']));
        expect(info).toMatch(/^cluster_state:ok\r?$/m);
        expect(info).toMatch(/^cluster_size:3\r?$/m);
      }
    });

    it('serves SET/GET of keys on every node through both cluster clients', async () => {
      for (const key of keys) await io!.set(key, `io ${key}`);
      const perNode = await Promise.all(cluster.nodes.map((node) => redisCommand(node, ['DBSIZE'])));
      expect(perNode.every((n) => typeof n === 'number' && n > 0)).toBe(true);
      expect(perNode.reduce((a, b) => Number(a) + Number(b), 0)).toBe(keys.length);
      for (const key of keys) await expect(nr!.get(key)).resolves.toBe(`io ${key}`);
      for (const key of keys) await nr!.set(key, `nr ${key}`);
      for (const key of keys) await expect(io!.get(key)).resolves.toBe(`nr ${key}`);
    });

    it('flush() empties every master', async () => {
      await io!.set(keys[0], '1');
      await cluster.flush();
      const perNode = await Promise.all(cluster.nodes.map((node) => redisCommand(node, ['DBSIZE'])));
      expect(perNode).toEqual([0, 0, 0]);
    });

    it('stop() ends every node', async () => {
      closeClient(io);
      closeClient(nr);
      await cluster.stop();
      for (const node of cluster.nodes) expect(await tcpConnect(node.port)).toBe('ECONNREFUSED');
      await expect(cluster.stop()).resolves.toBeUndefined();
    });
  });
});
