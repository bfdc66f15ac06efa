import { inject, injectable } from 'tsyringe';
import { SessionConfigError } from '../errors.js';
import { parseRecord } from '../services/json.js';
import { Tokens } from '../tokens.js';
import type {
  Clock,
  FlashSessionData,
  IdGenerator,
  MemoryStrategyOptions,
  SessionChanges,
  SessionData
} from '../types.js';
import { applyChanges } from './apply-changes.js';
import { BaseStrategy } from './base-strategy.js';

const DAY = 86_400_000;
/** How many indexed ids one log-in checks for ended sessions (`session.userId`). */
const PRUNE_BATCH = 16;

interface Entry {
  /** The record as JSON: a copy by construction, and compact. */
  json: string;
  /** Expiry, ms since the epoch. */
  expires: number;
}

/**
 * Sessions in this process's memory: one store per `handleSession()` call. Fast, and gone when the
 * process exits; for several processes use Redis (or the cookie strategy).
 *
 * Records are kept as JSON text, so changing an object after `set()` never changes the store.
 * The map is kept in write order (a write moves a record to the end), so expired records
 * cluster at its head: every write reclaims them from there, and a timer sweeps the whole map
 * every `sweepInterval` seconds for the rest, so expired records go away even if never read.
 * Changes are applied synchronously, within one turn of the event loop, so concurrent requests
 * never lose each other's changes.
 */
@injectable()
export class MemoryStrategy<Data = SessionData, FlashData = Data> extends BaseStrategy<Data, FlashData> {
  readonly #records = new Map<string, Entry>();
  /** `session.userId`: session ids by user; only filled when that option is set. */
  readonly #users = new Map<string, Set<string>>();
  readonly #max: number;
  readonly #sweepInterval: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    @inject(Tokens.StrategyOptions) options: MemoryStrategyOptions,
    @inject(Tokens.Clock) private readonly clock: Clock,
    @inject(Tokens.IdGenerator) private readonly ids: IdGenerator
  ) {
    super();
    const { max = Infinity, sweepInterval = 60 } = options ?? {};
    if (max !== Infinity && (!Number.isInteger(max) || max < 1)) {
      throw new SessionConfigError(`handleSession(): \`adapter.options.max\` must be a positive whole number of sessions, got ${JSON.stringify(max)}. Leave it out for no limit.`);
    }
    if (typeof sweepInterval !== 'number' || !(sweepInterval > 0)) {
      throw new SessionConfigError(`handleSession(): \`adapter.options.sweepInterval\` must be a positive number of seconds, got ${JSON.stringify(sweepInterval)}.`);
    }
    this.#max = max;
    this.#sweepInterval = sweepInterval * 1000;
  }

  /** How many records are held, expired ones not yet reclaimed included. */
  get size(): number {
    return this.#records.size;
  }

  async createData(data: FlashSessionData<Data, FlashData>, expires?: Date): Promise<string> {
    const id = this.ids.generate();
    this.#write(id, JSON.stringify(data), expires);
    return id;
  }

  async readData(id: string): Promise<FlashSessionData<Data, FlashData> | null> {
    return this.read(id) as FlashSessionData<Data, FlashData> | null;
  }

  /**
   * @internal `readData()` without a promise: the session engine reads the built-in store through
   * it (unless a subclass overrides `readData()`), so that a request reading its session from
   * memory creates no promise for it. The record is a fresh parse, with prototype keys dropped.
   */
  read(id: string): Record<string, unknown> | null {
    const entry = this.#live(id);
    return entry ? parseRecord(entry.json) : null;
  }

  async updateData(id: string, data: FlashSessionData<Data, FlashData>, expires?: Date): Promise<boolean> {
    if (!this.#live(id)) return false;
    this.#write(id, JSON.stringify(data), expires);
    return true;
  }

  async deleteData(id: string): Promise<void> {
    this.#records.delete(id);
  }

  override async applyChanges(id: string, changes: SessionChanges, expires?: Date): Promise<boolean> {
    // No await between the read and the write: no other request can interleave.
    const entry = this.#live(id);
    if (!entry) return false;
    const json = changes.size === 0 ? entry.json : JSON.stringify(applyChanges(parseRecord(entry.json) ?? {}, changes));
    this.#write(id, json, expires);
    return true;
  }

  /** One step, with no await inside: no request can destroy `id` between the read and the move. */
  override async moveData(id: string, changes: SessionChanges, expires?: Date): Promise<{ id: string; record: FlashSessionData<Data, FlashData> } | null> {
    const current = this.read(id);
    if (current === null) return null;
    const record = applyChanges(current, changes);
    this.#records.delete(id);
    const moved = this.ids.generate();
    this.#write(moved, JSON.stringify(record), expires);
    return { id: moved, record: record as FlashSessionData<Data, FlashData> };
  }

  /**
   * `session.userId`: indexes `id` under `user`, dropping the user's ids whose session has ended. A
   * bounded cost: the PRUNE_BATCH oldest entries are checked per call (live ones move to the back,
   * so the next call checks others); the sweep drops the rest.
   */
  override async addUserSession(user: string, id: string, _expires?: Date): Promise<void> {
    const ids = this.#users.get(user) ?? new Set<string>();
    const batch: string[] = [];
    for (const other of ids) {
      if (batch.length === PRUNE_BATCH) break;
      batch.push(other);
    }
    for (const other of batch) {
      ids.delete(other);
      if (other !== id && this.#live(other)) ids.add(other);
    }
    ids.add(id);
    this.#users.set(user, ids);
  }

  /** `session.userId`: the ids indexed under `user`, and the index entry removed. */
  override async takeUserSessions(user: string): Promise<string[]> {
    const ids = [...(this.#users.get(user) ?? [])];
    this.#users.delete(user);
    return ids;
  }

  /** Removes every expired record now, and user index entries left with no session. */
  sweep(): void {
    const now = this.clock.now();
    for (const [id, entry] of this.#records) {
      if (entry.expires <= now) this.#records.delete(id);
    }
    for (const [user, ids] of this.#users) {
      for (const id of ids) if (!this.#records.has(id)) ids.delete(id);
      if (ids.size === 0) this.#users.delete(user);
    }
  }

  /** Stops the background sweep (for tests and graceful shutdown). */
  dispose(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #live(id: string): Entry | undefined {
    const entry = this.#records.get(id);
    if (entry && entry.expires <= this.clock.now()) {
      this.#records.delete(id);
      return undefined;
    }
    return entry;
  }

  #write(id: string, json: string, expires: Date | undefined): void {
    const now = this.clock.now();
    // Re-inserting moves the record to the end of the map, keeping it in write order.
    this.#records.delete(id);
    this.#records.set(id, { json, expires: expires ? expires.getTime() : now + DAY });
    this.#reclaimHead(now);
    while (this.#records.size > this.#max) {
      this.#records.delete(this.#records.keys().next().value as string);
    }
    this.#startTimer();
  }

  /** Drops expired records from the head of the map, where the oldest writes are. */
  #reclaimHead(now: number): void {
    for (const [id, entry] of this.#records) {
      if (entry.expires > now) return;
      this.#records.delete(id);
    }
  }

  #startTimer(): void {
    if (this.#timer || typeof setInterval !== 'function') return;
    this.#timer = setInterval(() => this.sweep(), this.#sweepInterval);
    // Never keep a Node process alive just to sweep.
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
