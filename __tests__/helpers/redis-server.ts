/**
 * A harness for tests that need a real Redis: it starts throwaway `redis-server` processes (one
 * server, or a three-master cluster) on free local ports, and connects the two client libraries
 * we support (ioredis and node-redis) to them the way a user would.
 *
 * Why real servers and not a fake: the interesting failures (a server that restarts, one that
 * accepts connections but never answers, a cluster that redirects) are behaviours of the clients'
 * reconnect logic talking to a real socket, which a fake would only imitate.
 *
 * The servers keep nothing on disk (`--save ''`, `--appendonly no`, a temp `--dir` removed on
 * stop) and listen on 127.0.0.1 only. A server a test forgets to stop is killed when the Jest
 * process exits (see `hostRegistry()`), and it never keeps Jest from exiting (its process and
 * pipes are unref'd).
 *
 * The binaries come from the Debian package `redis-server` (`apt-get install redis-server`).
 * `SESSION_TEST_REDIS_SERVER` / `SESSION_TEST_REDIS_CLI` point the harness at other binaries;
 * setting one to a path that does not exist is how the "not installed" paths of
 * `describeRedis()` are exercised on a machine that has Redis.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
// Node's own timers, not the test environment's globals: a test that turns on jest's fake timers
// must not freeze the harness's polling and timeouts.
import { clearTimeout, setTimeout } from 'node:timers';
import vm from 'node:vm';
import { describeWithService, findBinary, freePort } from './system-service.js';
import { Redis, Cluster } from 'ioredis';
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';

const HOST = '127.0.0.1';
const NOT_INSTALLED = 'redis-server is not installed: apt-get install redis-server';
const SKIP_LINE = 'Skipping Redis tests: redis-server is not installed (apt-get install redis-server).';
/** How long a server (or the cluster) may take to answer after it was started. */
const READY_TIMEOUT_MS = 10_000;
const CLUSTER_READY_TIMEOUT_MS = 20_000;
/** How long stop() waits after SIGTERM before it sends SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
/** How many fresh ports startRedis() tries when the server fails to bind. */
const BIND_ATTEMPTS = 5;
/** Redis answers the first line of these when it could not listen on its port. */
const BIND_FAILURE = /Address already in use|Could not create server TCP listening socket/;

// ---------------------------------------------------------------------------------------------
// Binaries and describeRedis()
// ---------------------------------------------------------------------------------------------

/** The paths of `redis-server` and `redis-cli`, or undefined when either is missing. */
export function redisBinaries(): { server: string; cli: string } | undefined {
  const server = findBinary('redis-server', process.env.SESSION_TEST_REDIS_SERVER);
  const cli = findBinary('redis-cli', process.env.SESSION_TEST_REDIS_CLI);
  return server && cli ? { server, cli } : undefined;
}

/**
 * `describe()` for tests that need Redis: skipped with one line without it, failing with
 * `CI=true` (see describeWithService).
 */
export function describeRedis(name: string, body: () => void): void {
  describeWithService(
    { installed: redisBinaries() !== undefined, testName: 'needs redis-server', notInstalled: NOT_INSTALLED, skipLine: SKIP_LINE },
    name,
    body
  );
}

// ---------------------------------------------------------------------------------------------
// Process-wide state
// ---------------------------------------------------------------------------------------------

interface HostRegistry {
  /** pid -> temp dir of every server this process started and has not seen exit. */
  live: Map<number, string>;
}

const REGISTRY_KEY = Symbol.for('@svelte-dev/session/test/redis-server');

/**
 * State shared by every test file that runs in this process, and the exit hook that kills the
 * servers a test forgot to stop.
 *
 * Jest gives each test file its own copy of `process` (and a fresh module registry): a flag in a
 * module variable would be per file, and `process.on('exit')` on the copy never fires. The real
 * process is the global of Node's main context, which `vm.runInThisContext` evaluates in. The
 * registry and its exit hook are created there too, so they do not hold on to the first test
 * file's (torn down) context for the rest of the run. An 'exit' hook must be synchronous: it
 * SIGKILLs (which also ends a SIGSTOPped server) and removes the temp dirs with rmSync.
 */
function hostRegistry(): HostRegistry {
  const host = vm.runInThisContext('process') as NodeJS.Process & { [REGISTRY_KEY]?: HostRegistry };
  const existing = host[REGISTRY_KEY];
  if (existing) return existing;
  const create = vm.runInThisContext(`(function (host, rmSync) {
    const registry = { live: new Map() };
    host.on('exit', function killForgottenRedisServers() {
      for (const [pid, dir] of registry.live) {
        try { host.kill(pid, 'SIGKILL'); } catch {}
        try { rmSync(dir, { recursive: true, force: true }); } catch {}
      }
      registry.live.clear();
    });
    return registry;
  })`) as (host: NodeJS.Process, rmSync: typeof fs.rmSync) => HostRegistry;
  const registry = create(host, fs.rmSync);
  host[REGISTRY_KEY] = registry;
  return registry;
}

// ---------------------------------------------------------------------------------------------
// A raw RESP command, so the harness needs no client library
// ---------------------------------------------------------------------------------------------

export type RawReply = string | number | null;

/**
 * Sends one command on a fresh connection and returns the first reply (simple string, integer or
 * bulk string; an error reply rejects). For the harness itself (readiness, FLUSHALL, CLUSTER INFO)
 * and for tests that want to look at the server without going through the client under test.
 * Rejects after `timeoutMs`, so a paused server makes it fail rather than hang.
 */
export function redisCommand(
  node: { host: string; port: number },
  args: string[],
  timeoutMs = 2_000
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: node.host, port: node.port });
    let buffer = Buffer.alloc(0);
    const finish = (error: Error | null, reply?: RawReply) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply ?? null);
    };
    const timer = setTimeout(
      () => finish(new Error(`${args[0]} on ${node.host}:${node.port}: no reply within ${timeoutMs} ms`)),
      timeoutMs
    );
    socket.on('error', (error) => finish(error));
    socket.on('connect', () => {
      const encoded = args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
      socket.write(`*${args.length}\r\n${encoded}`);
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const lineEnd = buffer.indexOf('\r\n');
      if (lineEnd < 0) return;
      const line = buffer.subarray(1, lineEnd).toString();
      switch (String.fromCharCode(buffer[0])) {
        case '+':
          return finish(null, line);
        case '-':
          return finish(new Error(line));
        case ':':
          return finish(null, Number(line));
        case '$': {
          const length = Number(line);
          if (length < 0) return finish(null, null);
          if (buffer.length < lineEnd + 2 + length + 2) return; // wait for the rest
          return finish(null, buffer.subarray(lineEnd + 2, lineEnd + 2 + length).toString());
        }
        default:
          return finish(new Error(`unexpected reply to ${args[0]}: ${JSON.stringify(line)}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/** Resolves whether `port` can be listened on at 127.0.0.1 right now (0 = any; returns which). */
const listenOnce = (port: number): Promise<number | undefined> =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ host: HOST, port, exclusive: true }, () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });

/** A free port whose cluster bus port (port + 10000) is free too. */
const freeClusterPort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await listenOnce(port + 10_000)) !== undefined) return port;
  }
  throw new Error('found no free port whose cluster bus port (port + 10000) is free too');
};

// ---------------------------------------------------------------------------------------------
// One redis-server process
// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One run of redis-server: spawned, waited on until it answers, killed. */
class RedisProcess {
  readonly exited: Promise<void>;
  #exitedAlready = false;
  #output = '';
  #paused = false;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string
  ) {
    const registry = hostRegistry();
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.#exitedAlready = true;
        if (child.pid !== undefined) registry.live.delete(child.pid);
        fs.rmSync(dir, { recursive: true, force: true });
        resolve();
      });
      // spawn() failed (ENOENT, EACCES): there is no process and 'exit' may never come.
      child.once('error', (error) => {
        this.#output += `\n${error.message}`;
        if (child.pid === undefined) {
          this.#exitedAlready = true;
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        }
      });
    });
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-8_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // A server a test forgot to stop must not keep Jest from exiting; the exit hook kills it.
    child.unref();
    (child.stdout as net.Socket | null)?.unref();
    (child.stderr as net.Socket | null)?.unref();
    if (child.pid !== undefined) registry.live.set(child.pid, dir);
  }

  /** Starts redis-server on `port` and resolves once it answers, or rejects with its output. */
  static async start(server: string, port: number, extraArgs: string[]): Promise<RedisProcess> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-redis-'));
    const args = [
      '--port', String(port),
      '--bind', HOST,
      '--protected-mode', 'no',
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--dir', dir,
      ...extraArgs
    ];
    const child = spawn(server, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const run = new RedisProcess(child, port, dir);
    try {
      await run.#waitUntilReady();
      return run;
    } catch (error) {
      await run.kill();
      throw error;
    }
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return !this.#exitedAlready;
  }

  /**
   * Polls `INFO server` until it answers with this process's pid: a PONG alone could come from
   * another server that already holds the port (then ours fails to bind and exits).
   */
  async #waitUntilReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`redis-server on port ${this.port} exited before it was ready:\n${this.#output}`);
      try {
        const info = String(await redisCommand({ host: HOST, port: this.port }, ['INFO', 'server'], 1_000));
        if (new RegExp(`^process_id:${this.child.pid}\\r?$`, 'm').test(info)) return;
        lastError = new Error(`port ${this.port} is answered by another redis-server`);
      } catch (error) {
        lastError = error; // not listening yet, or still LOADING
      }
      await sleep(20);
    }
    throw new Error(`redis-server on port ${this.port} did not answer within ${READY_TIMEOUT_MS} ms (${String(lastError)}):\n${this.#output}`);
  }

  pause(): void {
    if (!this.running || this.#paused) return;
    this.child.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    if (!this.running || !this.#paused) return;
    this.child.kill('SIGCONT');
    this.#paused = false;
  }

  /** SIGTERM (after SIGCONT if paused: a stopped process would not act on it), SIGKILL if slow. */
  async kill(): Promise<void> {
    if (this.running) {
      this.resume();
      this.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const slow = new Promise<'slow'>((resolve) => (timer = setTimeout(() => resolve('slow'), STOP_TIMEOUT_MS)));
      if ((await Promise.race([this.exited, slow])) === 'slow') this.child.kill('SIGKILL');
      clearTimeout(timer);
    }
    await this.exited;
  }
}

/**
 * Starts redis-server on a port from `pickPort`, trying another port when the chosen one turned
 * out to be taken (`fixedPort` disables that: restart() must come back on the same port).
 */
async function launch(
  server: string,
  pickPort: () => Promise<number>,
  extraArgs: (port: number) => string[],
  fixedPort = false
): Promise<RedisProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const port = await pickPort();
    try {
      return await RedisProcess.start(server, port, extraArgs(port));
    } catch (error) {
      lastError = error;
      if (!BIND_FAILURE.test(String(error))) throw error;
      if (fixedPort) await sleep(100);
    }
  }
  throw lastError;
}

const requireBinaries = (): { server: string; cli: string } => {
  const binaries = redisBinaries();
  if (!binaries) throw new Error(NOT_INSTALLED);
  return binaries;
};

// ---------------------------------------------------------------------------------------------
// startRedis()
// ---------------------------------------------------------------------------------------------

export interface StartRedisOptions {
  /** More redis-server arguments, after the harness's own (e.g. `['--maxmemory', '10mb']`). */
  args?: string[];
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  /** SIGTERM, wait for the exit, remove the temp dir. Resumes a paused server first. Idempotent. */
  stop(): Promise<void>;
  /** stop(), then start again on the same port (empty: nothing persists) and wait until it answers. */
  restart(): Promise<void>;
  /** SIGSTOP: the kernel still accepts connections, but nothing is ever answered. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** FLUSHALL (rejects after 2 s on a paused server). */
  flush(): Promise<void>;
}

class RedisServerImpl implements RedisServer {
  readonly host = HOST;
  readonly port: number;
  #run: RedisProcess | undefined;
  #stopping: Promise<void> | undefined;

  constructor(
    run: RedisProcess,
    private readonly server: string,
    private readonly args: (port: number) => string[]
  ) {
    this.#run = run;
    this.port = run.port;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  stop(): Promise<void> {
    const run = this.#run;
    if (!run) return this.#stopping ?? Promise.resolve();
    this.#run = undefined;
    this.#stopping = run.kill();
    return this.#stopping;
  }

  async restart(): Promise<void> {
    await this.stop();
    this.#run = await launch(this.server, async () => this.port, this.args, true);
    this.#stopping = undefined;
  }

  pause(): void {
    this.#running().pause();
  }

  resume(): void {
    this.#run?.resume();
  }

  async flush(): Promise<void> {
    this.#running();
    await redisCommand(this, ['FLUSHALL']);
  }

  #running(): RedisProcess {
    if (!this.#run?.running) throw new Error(`redis-server on port ${this.port} is not running`);
    return this.#run;
  }
}

/** Starts a throwaway redis-server on a free port of 127.0.0.1; resolves once it answers. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const { server } = requireBinaries();
  const args = () => options.args ?? [];
  const run = await launch(server, freePort, args);
  return new RedisServerImpl(run, server, args);
}

// ---------------------------------------------------------------------------------------------
// startRedisCluster()
// ---------------------------------------------------------------------------------------------

export interface RedisCluster {
  readonly nodes: { host: string; port: number }[];
  /** Stops every node and removes their temp dirs. Idempotent. */
  stop(): Promise<void>;
  /** FLUSHALL on every master (all nodes are masters). */
  flush(): Promise<void>;
}

const execFileText = (file: string, args: string[], timeoutMs: number): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });

/**
 * Starts three masters without replicas (each slot range on one node), joins them with
 * `redis-cli --cluster create`, and resolves once every node reports the whole cluster healthy.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const { server, cli } = requireBinaries();
  const runs: RedisProcess[] = [];
  const stopAll = async () => {
    await Promise.all(runs.splice(0).map((run) => run.kill()));
  };
  try {
    // One after the other: ports picked concurrently could collide with each other.
    for (let i = 0; i < 3; i++) {
      runs.push(
        await launch(server, freeClusterPort, (port) => [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', `nodes-${port}.conf`,
          '--cluster-node-timeout', '2000'
        ])
      );
    }
    const nodes = runs.map((run) => ({ host: HOST, port: run.port }));
    await execFileText(
      cli,
      ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      30_000
    );
    await waitForClusterOk(nodes);
    let stopping: Promise<void> | undefined;
    return {
      nodes,
      stop: () => (stopping ??= stopAll()),
      flush: async () => {
        await Promise.all(nodes.map((node) => redisCommand(node, ['FLUSHALL'])));
      }
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * `cluster_state:ok` alone can show on a node whose view is still partial; clients discover the
 * topology from whichever node they ask first, so every node must also know all three nodes and
 * see all 16384 slots assigned.
 */
async function waitForClusterOk(nodes: { host: string; port: number }[]): Promise<void> {
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const infos = await Promise.all(
      nodes.map((node) => redisCommand(node, ['CLUSTER', 'INFO'], 1_000).then(String, (e: Error) => e.message))
    );
    const healthy = (info: string) =>
      /^cluster_state:ok\r?$/m.test(info) &&
      /^cluster_slots_assigned:16384\r?$/m.test(info) &&
      new RegExp(`^cluster_known_nodes:${nodes.length}\\r?$`, 'm').test(info);
    if (infos.every(healthy)) return;
    last = infos.join('\n---\n');
    await sleep(50);
  }
  throw new Error(`the Redis cluster did not become healthy within ${CLUSTER_READY_TIMEOUT_MS} ms:\n${last}`);
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

export type NodeRedisClient = RedisClientType;
export type NodeRedisCluster = RedisClusterType;
/** Any ioredis client, or anything of node-redis (client, cluster, pool, whatever its generics). */
export type AnyRedisClient = Redis | Cluster | { destroy(): void };

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * `promise`, or a rejection after CONNECT_TIMEOUT_MS. Neither client gives up by itself when the
 * TCP connect succeeds but the server never answers (a paused server): ioredis waits in status
 * 'connect', node-redis's connect() stays pending. The caller closes the client on rejection.
 */
const bounded = <T>(promise: Promise<T>, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not ready within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
};

const ready = (client: Redis | Cluster, what: string): Promise<void> =>
  client.status === 'ready' ? Promise.resolve() : bounded(new Promise<void>((resolve) => client.once('ready', () => resolve())), what);

/**
 * Errors go to a listener that ignores them: node-redis throws on an 'error' event without one,
 * and ioredis logs "[ioredis] Unhandled error event" for each reconnect attempt. The clients keep
 * their default options otherwise; tests see failures through the commands' rejections.
 */
const ignoreErrors = () => {};

/** `new Redis(port, host)`, resolved once it is ready. */
export async function connectIoredis(server: { host: string; port: number }): Promise<Redis> {
  const client = new Redis(server.port, server.host);
  client.on('error', ignoreErrors);
  try {
    await ready(client, `ioredis to ${server.host}:${server.port}`);
    return client;
  } catch (error) {
    client.disconnect();
    throw error;
  }
}

/** `createClient({ url })`, connected. */
export async function connectNodeRedis(server: { url: string }): Promise<NodeRedisClient> {
  const client: NodeRedisClient = createClient({ url: server.url });
  client.on('error', ignoreErrors);
  try {
    await bounded(client.connect(), `node-redis to ${server.url}`);
    return client;
  } catch (error) {
    client.destroy();
    throw error;
  }
}

/** `new Redis.Cluster(nodes)`, resolved once it is ready. */
export async function connectIoredisCluster(cluster: RedisCluster): Promise<Cluster> {
  const client = new Cluster(cluster.nodes.map(({ host, port }) => ({ host, port })));
  client.on('error', ignoreErrors);
  try {
    await ready(client, 'ioredis cluster');
    return client;
  } catch (error) {
    client.disconnect();
    throw error;
  }
}

/** `createCluster({ rootNodes: [{ url }, ...] })`, connected. */
export async function connectNodeRedisCluster(cluster: RedisCluster): Promise<NodeRedisCluster> {
  const client: NodeRedisCluster = createCluster({
    rootNodes: cluster.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` }))
  });
  client.on('error', ignoreErrors);
  try {
    await bounded(client.connect(), 'node-redis cluster');
    return client;
  } catch (error) {
    client.destroy();
    throw error;
  }
}

/**
 * Closes any of the four clients at once, without waiting for the server (which may be stopped
 * or paused): ioredis `disconnect()`, node-redis `destroy()`. Both reject pending commands, and
 * both may be called again on a closed client. (node-redis `close()` waits for the replies still
 * pending and `quit()` for the reply to QUIT: on a paused server, both hang.)
 */
export function closeClient(client: AnyRedisClient | undefined): void {
  if (!client) return;
  if (client instanceof Redis || client instanceof Cluster) client.disconnect();
  else client.destroy();
}
