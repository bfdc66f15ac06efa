import type {
  FlashSessionData,
  SessionChanges,
  SessionData,
  SessionStorageStrategy,
  StrategyContext
} from '../types.js';
import { applyChanges } from './apply-changes.js';

/**
 * The base of every storage strategy. Subclass it and implement the four methods to keep sessions
 * in your own store; no decorators are needed.
 *
 * @example
 * ```ts
 * class SqliteStrategy extends BaseStrategy {
 *   constructor(private db: Database) { super(); }
 *   async createData(data, expires) {
 *     const id = nanoid(24); // at least 128 random bits: a UUID has 122
 *     this.db.prepare('INSERT INTO sessions VALUES (?, ?, ?)').run(id, JSON.stringify(data), expires?.getTime());
 *     return id;
 *   }
 *   // readData, updateData, deleteData ...
 * }
 * ```
 */
export abstract class BaseStrategy<Data = SessionData, FlashData = Data>
  implements SessionStorageStrategy<Data, FlashData>
{
  /**
   * Stores a new record and returns its id: 1-128 characters of `[A-Za-z0-9_-]`, unguessable
   * (at least 128 bits from a CSPRNG) unless the store keeps ids secret some other way.
   * @throws on store failure; the request then fails with a `SessionStoreError` (503).
   */
  abstract createData(
    data: FlashSessionData<Data, FlashData>,
    expires?: Date,
    context?: StrategyContext
  ): Promise<string>;

  /**
   * The record, or `null` when the id is unknown or expired.
   * @throws on store failure: never answer `null` for "store unreachable".
   */
  abstract readData(id: string, context?: StrategyContext): Promise<FlashSessionData<Data, FlashData> | null>;

  /**
   * Replaces the record and its expiry, only if the record exists: for an unknown (deleted or
   * expired) id, write nothing and resolve `false`. (Resolving nothing counts as "updated".)
   * @throws on store failure.
   */
  abstract updateData(
    id: string,
    data: FlashSessionData<Data, FlashData>,
    expires?: Date,
    context?: StrategyContext
  ): Promise<void | boolean>;

  /**
   * Deletes the record. Deleting an unknown id is not an error.
   * @throws on store failure.
   */
  abstract deleteData(id: string, context?: StrategyContext): Promise<void>;

  /**
   * Optional, for `session.userId`: remember that session `id` belongs to `user` until about
   * `expires`. Called after the write that gave the session its user (usually the log-in). Stores
   * that implement it and {@link takeUserSessions} let `destroyUserSessions(user)` end all of one
   * user's sessions.
   * @throws on store failure.
   */
  addUserSession?(user: string, id: string, expires: Date, context?: StrategyContext): Promise<void>;

  /**
   * Optional, for `session.userId`: the ids indexed under `user`, removed from the index in the
   * same step (so that a log-in meanwhile starts a new index). Ids of ended sessions may be among
   * them; the caller checks each record's user before it deletes it.
   * @throws on store failure.
   */
  takeUserSessions?(user: string, context?: StrategyContext): Promise<string[]>;

  /**
   * @internal Where a store kept the records of `@svelte-dev/session` 1.1.3, when not where
   * {@link readData} and {@link deleteData} look (1.1.3's Workers KV keys had no prefix). Read once
   * per 1.1.3 session, when it is moved to a new id.
   */
  readLegacyData?(id: string, context?: StrategyContext): Promise<FlashSessionData<Data, FlashData> | null>;
  /** @internal See {@link readLegacyData}. */
  deleteLegacyData?(id: string, context?: StrategyContext): Promise<void>;

  /**
   * Moves session `id` to a new id (`regenerate()`, at log-in): a new record holding what `id` holds
   * now with `changes` applied, and `id` deleted. Answers `null`, creating nothing, when `id` is
   * gone (destroyed or expired meanwhile): a request that was in flight must not bring a destroyed
   * session back under a new id.
   *
   * This default reads, then creates and deletes: a `destroy()` landing between the read and the
   * write is undone. The memory and Redis stores override it with one atomic step; stores that can
   * (a transaction: `DELETE ... RETURNING`, then `INSERT`) should too.
   * @throws on store failure.
   */
  async moveData(
    id: string,
    changes: SessionChanges,
    expires?: Date,
    context?: StrategyContext
  ): Promise<{ id: string; record: FlashSessionData<Data, FlashData> } | null> {
    const current = await this.readData(id, context);
    if (current === null) return null;
    const record = applyChanges(current as Record<string, unknown>, changes) as FlashSessionData<Data, FlashData>;
    const moved = await this.createData(record, expires, context);
    await this.deleteData(id, context);
    return { id: moved, record };
  }

  /**
   * Applies one request's changes to record `id` and sets its expiry. Returns `false`, writing
   * nothing, when the record is gone (destroyed or expired meanwhile): a request that was in flight
   * must not bring a destroyed session back.
   *
   * This default reads, merges and writes back, which is right when one request at a time changes a
   * session. Stores that can do it atomically override it, so that concurrent requests changing
   * different keys both keep their change.
   * @throws on store failure.
   */
  async applyChanges(
    id: string,
    changes: SessionChanges,
    expires?: Date,
    context?: StrategyContext
  ): Promise<boolean> {
    const current = await this.readData(id, context);
    if (current === null) return false;
    const updated = await this.updateData(id, applyChanges(current as Record<string, unknown>, changes) as FlashSessionData<Data, FlashData>, expires, context);
    // A destroy() between the read and the write: a store whose updateData() updates only an
    // existing record says so, and nothing is brought back.
    return updated !== false;
  }
}
