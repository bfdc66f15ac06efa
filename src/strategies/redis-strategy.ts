import { inject, injectable } from 'tsyringe';
import { SessionConfigError } from '../errors.js';
import { redactedKey } from '../services/redact.js';
import { isForbiddenKey } from '../services/json.js';
import { SystemClock } from '../services/clock.js';
import { NanoidGenerator } from '../services/id-generator.js';
import { Tokens } from '../tokens.js';
import type {
  Clock,
  FlashSessionData,
  IdGenerator,
  RedisStrategyOptions,
  SessionChanges,
  SessionData,
  StrategyContext
} from '../types.js';
import { applyChanges } from './apply-changes.js';
import { BaseStrategy } from './base-strategy.js';

const DAY = 86_400_000;
const DEFAULT_TIMEOUT = 2000;
/**
 * Every record holds this field besides the session's own keys (which are never empty strings),
 * so a session whose keys were all removed still exists: a concurrent request adding a key to it
 * must not be taken for one writing to a destroyed session.
 */
const MARK = '';

// Scripts touch exactly one key (KEYS[1]), so they run on Redis Cluster too. ARGV[1] is the TTL
// in milliseconds; field/value pairs follow.

/** Creates the record unless the id is taken. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

/** Replaces the record, if it exists. */
const REPLACE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

/** A user's set of session ids (`session.userId`). */
/** Up to ARGV[1] distinct members, at random. */
const SAMPLE = `return redis.call('SRANDMEMBER', KEYS[1], ARGV[1])`;
/** How many indexed ids one log-in checks for ended sessions: a bounded cost, however many there are. */
const PRUNE_BATCH = 16;
const EXISTS = `return redis.call('EXISTS', KEYS[1])`;
/** ARGV[1] joins the set; ARGV[2..] (ended sessions) leave it. */
const INDEX = `
redis.call('SADD', KEYS[1], ARGV[1])
for i = 2, #ARGV do redis.call('SREM', KEYS[1], ARGV[i]) end
return 1`;
/** The set's members, and the set deleted, atomically. */
const TAKE = `
local members = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return members`;
/** The record's fields, and the record deleted, atomically (the first half of a move); nil if gone. */
const TAKE_RECORD = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return fields`;
/** Applies changes to a record that still exists: ARGV[2] pairs to set, then fields to delete. */
const APPLY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local i = 3
for _ = 1, tonumber(ARGV[2]) do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for j = i, #ARGV do redis.call('HDEL', KEYS[1], ARGV[j]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

/** What the strategy needs of a client, whichever library made it. */
interface RedisCommands {
  hgetall(key: string): Promise<unknown>;
  pexpire(key: string, ms: number): Promise<unknown>;
  del(key: string): Promise<unknown>;
  eval(script: string, key: string, args: string[]): Promise<unknown>;
  /** 'ready', 'wait' (connecting would start with a command), 'down', or 'closed' (by the app). */
  state(): 'ready' | 'wait' | 'down' | 'closed';
  /** How the app fixes a closed client. */
  closedHint: string;
}

type AnyFn = (...args: any[]) => Promise<unknown>;

/** Wraps an ioredis or node-redis client (or cluster) behind one small interface. */
function commandsOf(client: unknown): RedisCommands {
  const c = client as Record<string, unknown> & { status?: unknown; isOpen?: unknown; isReady?: unknown };
  if (c && typeof c.hgetall === 'function' && typeof c.status === 'string') {
    // ioredis: Redis or Cluster
    return {
      hgetall: (key) => (c.hgetall as AnyFn).call(c, key),
      pexpire: (key, ms) => (c.pexpire as AnyFn).call(c, key, ms),
      del: (key) => (c.del as AnyFn).call(c, key),
      eval: (script, key, args) => (c.eval as AnyFn).call(c, script, 1, key, ...args),
      state() {
        switch (c.status) {
          case 'ready':
            return 'ready';
          case 'wait':
            return 'wait';
          case 'end':
            return 'closed';
          default:
            return 'down';
        }
      },
      closedHint: 'The ioredis client was closed (quit() or disconnect()); hand handleSession a client that stays open.'
    };
  }
  if (c && typeof c.hGetAll === 'function' && typeof c.isReady === 'boolean') {
    // node-redis: createClient() or createCluster()
    return {
      hgetall: (key) => (c.hGetAll as AnyFn).call(c, key),
      pexpire: (key, ms) => (c.pExpire as AnyFn).call(c, key, ms),
      del: (key) => (c.del as AnyFn).call(c, key),
      eval: (script, key, args) => (c.eval as AnyFn).call(c, script, { keys: [key], arguments: args }),
      state: () => (c.isReady ? 'ready' : c.isOpen ? 'down' : 'closed'),
      closedHint: 'The node-redis client is not open: call `await client.connect()` before the first request, and do not close it while the app runs.'
    };
  }
  throw new SessionConfigError("handleSession(): the 'redis' adapter needs `adapter.options.client`, a connected client from ioredis (`new Redis(url)`) or node-redis (`await createClient({ url }).connect()`), or a cluster client of either.");
}

const sleep = (ms: number) => new Promise((resume) => setTimeout(resume, ms));

/**
 * Sessions in Redis, through your own connected client: `ioredis` or `redis` (node-redis), a single
 * server or a cluster. Any number of Node servers sharing one Redis share the sessions.
 *
 * Each session is one Redis hash under `prefix + id`, one field per session key (its value as
 * JSON), with a TTL equal to the session's remaining lifetime, set by every write. A request's
 * changes are applied by one Lua script that only touches that one key: changes of concurrent
 * requests to different keys are all kept, and a session destroyed meanwhile is never written
 * again. Only single-key commands are used, so Redis Cluster works.
 *
 * A read is one round trip (HGETALL) and a write one more. No call waits longer than `timeout`
 * (2 s by default): a client that is reconnecting is waited for up to that long, commands are
 * never left in its offline queue, and while it stays down requests fail at once with a
 * `SessionStoreError` (HTTP 503) until it reconnects by itself.
 */
@injectable()
export class RedisStrategy<Data = SessionData, FlashData = Data> extends BaseStrategy<Data, FlashData> {
  readonly #redis: RedisCommands;
  readonly #prefix: string;
  readonly #timeout: number;
  /** The client was found down and stayed down for a whole `timeout`: fail fast until it is back. */
  #down = false;
  /** Milliseconds each request in flight has spent on Redis so far (by its event). */
  readonly #spent = new WeakMap<object, number>();

  constructor(
    @inject(Tokens.StrategyOptions) options: RedisStrategyOptions,
    @inject(Tokens.Clock) private readonly clock: Clock = new SystemClock(),
    @inject(Tokens.IdGenerator) private readonly ids: IdGenerator = new NanoidGenerator()
  ) {
    super();
    const { client, prefix = 'sess:', timeout = DEFAULT_TIMEOUT } = (options ?? {}) as Partial<RedisStrategyOptions>;
    this.#redis = commandsOf(client);
    if (typeof prefix !== 'string') {
      throw new SessionConfigError(`handleSession(): \`adapter.options.prefix\` must be a string, got ${typeof prefix}. The default is 'sess:'.`);
    }
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new SessionConfigError(`handleSession(): \`adapter.options.timeout\` must be a positive number of milliseconds, got ${JSON.stringify(timeout)}. The default is ${DEFAULT_TIMEOUT}.`);
    }
    this.#prefix = prefix;
    this.#timeout = timeout;
  }

  async createData(data: FlashSessionData<Data, FlashData>, expires?: Date, context?: StrategyContext): Promise<string> {
    const args = [String(this.#ttl(expires)), ...fields(data as Record<string, unknown>)];
    for (;;) {
      const id = this.ids.generate();
      // A taken id (never seen with 144-bit ids, but cheap to rule out) is drawn again.
      if (Number(await this.#call((r) => r.eval(CREATE, this.#prefix + id, args), context)) === 1) return id;
    }
  }

  async readData(id: string, context?: StrategyContext): Promise<FlashSessionData<Data, FlashData> | null> {
    const key = this.#prefix + id;
    const hash = await this.#call((r) => r.hgetall(key), context);
    const entries = hash instanceof Map ? [...hash.entries()] : Object.entries((hash ?? {}) as Record<string, unknown>);
    if (entries.length === 0) return null;
    return this.#record(id, entries);
  }

  /**
   * Moves a session in two single-key steps, so that it works on a cluster: the old record is taken
   * (read and deleted in one script), then the new one is created. A `destroy()` of the old id
   * lands either before the take (nothing to move: `null`) or after it (the old id is gone by then):
   * never between them.
   */
  override async moveData(
    id: string,
    changes: SessionChanges,
    expires?: Date,
    context?: StrategyContext
  ): Promise<{ id: string; record: FlashSessionData<Data, FlashData> } | null> {
    const taken = (await this.#call((r) => r.eval(TAKE_RECORD, this.#prefix + id, []), context)) as unknown[] | null;
    if (!Array.isArray(taken)) return null;
    const entries: Array<[string, unknown]> = [];
    for (let i = 0; i + 1 < taken.length; i += 2) entries.push([String(taken[i]), taken[i + 1]]);
    const record = applyChanges(this.#record(id, entries), changes) as FlashSessionData<Data, FlashData>;
    return { id: await this.createData(record, expires, context), record };
  }

  /** A record from its hash fields (the mark and forbidden names left out). */
  #record(id: string, entries: Array<[string, unknown]>): FlashSessionData<Data, FlashData> {
    const record: Record<string, unknown> = {};
    for (const [field, value] of entries) {
      if (field === MARK || isForbiddenKey(field)) continue;
      record[field] = parseField(String(value), redactedKey(this.#prefix, id), field);
    }
    return record as FlashSessionData<Data, FlashData>;
  }

  async updateData(id: string, data: FlashSessionData<Data, FlashData>, expires?: Date, context?: StrategyContext): Promise<boolean> {
    const args = [String(this.#ttl(expires)), ...fields(data as Record<string, unknown>)];
    return Number(await this.#call((r) => r.eval(REPLACE, this.#prefix + id, args), context)) === 1;
  }

  async deleteData(id: string, context?: StrategyContext): Promise<void> {
    await this.#call((r) => r.del(this.#prefix + id), context);
  }

  /**
   * `session.userId`: adds `id` to the user's set (`<prefix>user:<user>`, which no session id can
   * be: ids have no `:`), dropping ids whose session has ended. A bounded cost whatever the set's
   * size: up to PRUNE_BATCH random members are checked per call, in parallel (one round trip), so a
   * log-in is three round trips; the set shrinks back as users log in. Each command touches one
   * key, so this works on a cluster too. The set has no TTL, since rolling sessions may outlive any
   * TTL set here.
   */
  override async addUserSession(user: string, id: string, _expires?: Date, context?: StrategyContext): Promise<void> {
    const key = this.#userKey(user);
    const sample = (await this.#call((r) => r.eval(SAMPLE, key, [String(PRUNE_BATCH)]), context)) as unknown[] | null;
    const others = (sample ?? []).map(String).filter((other) => other !== id);
    const live = await this.#call((r) => Promise.all(others.map((other) => r.eval(EXISTS, this.#prefix + other, []))), context);
    const ended = others.filter((_, i) => Number(live[i]) === 0);
    await this.#call((r) => r.eval(INDEX, key, [id, ...ended]), context);
  }

  /** `session.userId`: the user's set, read and deleted in one atomic step. */
  override async takeUserSessions(user: string, context?: StrategyContext): Promise<string[]> {
    const members = (await this.#call((r) => r.eval(TAKE, this.#userKey(user), []), context)) as unknown[];
    return (members ?? []).map(String);
  }

  #userKey(user: string): string {
    return `${this.#prefix}user:${user}`;
  }

  /** One round trip, atomic in Redis: changes are merged into the record if it still exists. */
  override async applyChanges(id: string, changes: SessionChanges, expires?: Date, context?: StrategyContext): Promise<boolean> {
    const key = this.#prefix + id;
    const ttl = this.#ttl(expires);
    if (changes.size === 0) return Number(await this.#call((r) => r.pexpire(key, ttl), context)) === 1;
    const set: string[] = [];
    const removed: string[] = [];
    for (const [field, value] of changes) {
      if (value === undefined) removed.push(field);
      else set.push(field, JSON.stringify(value));
    }
    const args = [String(ttl), String(set.length / 2), ...set, ...removed];
    return Number(await this.#call((r) => r.eval(APPLY, key, args), context)) === 1;
  }

  /** Milliseconds left until `expires` (at least 1; a day when none is given). */
  #ttl(expires: Date | undefined): number {
    return expires ? Math.max(1, expires.getTime() - this.clock.now()) : DAY;
  }

  /**
   * Runs one command within what is left of the request's `timeout`: the time a request spends on
   * Redis is bounded in all, however many commands it sends (a call without a request gets a whole
   * `timeout`). A client that is not connected is waited for (within the same time) instead of
   * being handed a command it would queue; a client still down after a whole `timeout` makes later
   * calls fail at once until it reconnects.
   */
  async #call<T>(command: (redis: RedisCommands) => Promise<T>, context?: StrategyContext): Promise<T> {
    const redis = this.#redis;
    const started = Date.now();
    const event = context?.event as object | undefined;
    const spent = event ? (this.#spent.get(event) ?? 0) : 0;
    if (spent >= this.#timeout) throw new Error(`Redis took ${this.#timeout} ms in this request already (the timeout is for all of a request's commands).`);
    const deadline = started + this.#timeout - spent;
    try {
      return await this.#run(redis, command, deadline);
    } finally {
      if (event) this.#spent.set(event, spent + Date.now() - started);
    }
  }

  async #run<T>(redis: RedisCommands, command: (redis: RedisCommands) => Promise<T>, deadline: number): Promise<T> {
    let state = redis.state();
    if (state === 'closed') throw new Error(redis.closedHint);
    if (state === 'down') {
      if (this.#down) throw new Error('Redis is unreachable; the client is reconnecting.');
      while (state === 'down' && Date.now() < deadline) {
        await sleep(Math.min(25, Math.max(1, deadline - Date.now())));
        state = redis.state();
      }
      if (state === 'down') {
        this.#down = true;
        throw new Error(`Redis is unreachable: the client did not reconnect within ${this.#timeout} ms.`);
      }
      if (state === 'closed') throw new Error(redis.closedHint);
    }
    this.#down = false;

    let timer: ReturnType<typeof setTimeout> | undefined;
    const pending = command(redis);
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${this.#timeout} ms (this request's time on Redis in all).`)),
        Math.max(1, deadline - Date.now())
      );
    });
    try {
      return await Promise.race([pending, late]);
    } catch (error) {
      // The connection dropped under this command: later calls fail fast until it is back.
      if (redis.state() === 'down') this.#down = true;
      throw withoutArguments(error);
    } finally {
      clearTimeout(timer);
      // A command that answers after we gave up must not become an unhandled rejection.
      pending.catch(() => {});
    }
  }
}

/** The fields of a new record: the marker, then each key with its value as JSON. */
function fields(data: Record<string, unknown>): string[] {
  const out = [MARK, '1'];
  for (const [key, value] of Object.entries(data)) {
    if (value !== undefined) out.push(key, JSON.stringify(value));
  }
  return out;
}

/**
 * ioredis puts the failed command on its errors, arguments included (`command.args`): the session's
 * key, so its id, and for EVAL its values. The error is logged as the cause of a SessionStoreError,
 * so the arguments are dropped and only the command's name is kept.
 */
function withoutArguments(error: unknown): unknown {
  const command = (error as { command?: { name?: unknown } } | null)?.command;
  if (command && typeof command === 'object') (error as { command: unknown }).command = { name: command.name };
  return error;
}

function parseField(text: string, key: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TypeError(`Redis key "${key}" holds ${text.length} characters in field "${field}" that are not a JSON value. Is another program writing under this key prefix?`);
  }
}
