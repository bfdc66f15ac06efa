/**
 * The store contract as a test suite, for your own strategy:
 *
 * ```ts
 * import { strategyConformance } from '@svelte-dev/session/conformance';
 * strategyConformance('SqliteStrategy', () => new SqliteStrategy(new Database(':memory:')));
 * ```
 *
 * It registers its cases with the runner's global `describe`/`it` (jest, or vitest with globals)
 * and asserts with `node:assert`, so it needs no particular runner. A separate entry point keeps
 * `node:assert` out of the main bundle (Workers).
 */
import assert from 'node:assert/strict';
import type { SessionStorageStrategy, StrategyContext } from './types.js';

type Suite = (name: string, body: () => void) => void;
type Case = (name: string, body: () => Promise<void>) => void;

export interface ConformanceOptions {
  /** The per-request context some stores need (a Workers KV binding, say). */
  context?: () => StrategyContext;
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;

export function strategyConformance(
  name: string,
  factory: () => SessionStorageStrategy<any, any> | Promise<SessionStorageStrategy<any, any>>,
  options: ConformanceOptions = {}
): void {
  const { describe, it } = globalThis as unknown as { describe?: Suite; it?: Case };
  if (typeof describe !== 'function' || typeof it !== 'function') {
    throw new Error('strategyConformance() needs the global describe() and it() of a test runner (jest, or vitest with globals: true).');
  }
  const later = () => new Date(Date.now() + 3_600_000);
  const ctx = () => options.context?.();

  describe(`${name} (session strategy contract)`, () => {
    it('createData() returns an id of 1-128 characters of [A-Za-z0-9_-], fresh each time', async () => {
      const strategy = await factory();
      const a = await strategy.createData({ n: 1 }, later(), ctx());
      const b = await strategy.createData({ n: 1 }, later(), ctx());
      assert.match(a, ID);
      assert.match(b, ID);
      assert.notEqual(a, b);
    });

    it('readData() returns what was stored, flash keys included', async () => {
      const strategy = await factory();
      const data = { user: { id: 7, roles: ['a'] }, n: 1.5, s: 'é✓', t: true, z: null, __flash_msg__: 'hi' };
      const id = await strategy.createData(data, later(), ctx());
      assert.deepEqual(await strategy.readData(id, ctx()), data);
    });

    it('keeps a copy: changing the object after createData() changes nothing stored', async () => {
      const strategy = await factory();
      const data = { cart: ['a'] };
      const id = await strategy.createData(data, later(), ctx());
      data.cart.push('b');
      assert.deepEqual(await strategy.readData(id, ctx()), { cart: ['a'] });
    });

    it('readData() of an unknown id is null', async () => {
      const strategy = await factory();
      assert.equal(await strategy.readData('unknown-id-0000000000000', ctx()), null);
    });

    it('updateData() replaces the record', async () => {
      const strategy = await factory();
      const id = await strategy.createData({ a: 1, b: 2 }, later(), ctx());
      await strategy.updateData(id, { b: 3 }, later(), ctx());
      assert.deepEqual(await strategy.readData(id, ctx()), { b: 3 });
    });

    it('updateData() of a deleted id writes nothing: a session destroyed while a request was in flight is not brought back', async () => {
      const strategy = await factory();
      const id = await strategy.createData({ user: 'ann' }, later(), ctx());
      // What a request that read the session, then lost the race to a destroy(), does next.
      await strategy.deleteData(id, ctx());
      const answer = await strategy.updateData(id, { user: 'ann', cart: 1 }, later(), ctx());
      assert.equal(
        await strategy.readData(id, ctx()),
        null,
        'updateData() re-created a deleted record. Update only an existing record and resolve false when there is none (for example UPDATE ... WHERE id = ?, then return whether a row changed).'
      );
      assert.notEqual(answer, true, 'updateData() of an unknown id resolved true: resolve false when there was nothing to update.');
    });

    it('moveData(), where present, moves the record to a new id, and moves nothing once the record is gone', async () => {
      const strategy = (await factory()) as SessionStorageStrategy<any, any> & {
        moveData?: (id: string, changes: ReadonlyMap<string, unknown>, expires?: Date, context?: StrategyContext) => Promise<{ id: string; record: object } | null>;
      };
      if (typeof strategy.moveData !== 'function') return;
      const id = await strategy.createData({ user: 'ann', cart: 1 }, later(), ctx());
      const moved = await strategy.moveData(id, new Map<string, unknown>([['cart', undefined], ['role', 'admin']]), later(), ctx());
      assert.ok(moved, 'moveData() of a live record gave null');
      assert.match(moved.id, ID);
      assert.notEqual(moved.id, id);
      assert.deepEqual(moved.record, { user: 'ann', role: 'admin' });
      assert.deepEqual(await strategy.readData(moved.id, ctx()), { user: 'ann', role: 'admin' });
      assert.equal(await strategy.readData(id, ctx()), null);
      // The old id, destroyed or moved already, moves nowhere.
      assert.equal(await strategy.moveData(id, new Map(), later(), ctx()), null);
    });

    it('deleteData() forgets the record; deleting an unknown id is not an error', async () => {
      const strategy = await factory();
      const id = await strategy.createData({ a: 1 }, later(), ctx());
      await strategy.deleteData(id, ctx());
      assert.equal(await strategy.readData(id, ctx()), null);
      await strategy.deleteData('unknown-id-0000000000000', ctx());
    });

    it('applyChanges(), where present, merges changes and never re-creates a deleted record', async () => {
      const strategy = (await factory()) as SessionStorageStrategy<any, any> & {
        applyChanges?: (id: string, changes: ReadonlyMap<string, unknown>, expires?: Date, context?: StrategyContext) => Promise<boolean>;
      };
      if (typeof strategy.applyChanges !== 'function') return;
      const id = await strategy.createData({ a: 1, b: 2 }, later(), ctx());
      assert.equal(await strategy.applyChanges(id, new Map<string, unknown>([['a', undefined], ['c', 3]]), later(), ctx()), true);
      assert.deepEqual(await strategy.readData(id, ctx()), { b: 2, c: 3 });
      await strategy.deleteData(id, ctx());
      assert.equal(await strategy.applyChanges(id, new Map([['d', 4]]), later(), ctx()), false);
      assert.equal(await strategy.readData(id, ctx()), null);
    });

    it('addUserSession() and takeUserSessions(), where present: take gives every live id added for that user once, and no other user\'s', async () => {
      const strategy = await factory();
      if (typeof strategy.addUserSession !== 'function' || typeof strategy.takeUserSessions !== 'function') return;
      const [a, b, other] = await Promise.all([{ u: 'a' }, { u: 'b' }, { u: 'c' }].map((data) => strategy.createData(data, later(), ctx())));
      await strategy.addUserSession('user-1', a, later(), ctx());
      await strategy.addUserSession('user-1', b, later(), ctx());
      await strategy.addUserSession('user-2', other, later(), ctx());
      assert.deepEqual([...(await strategy.takeUserSessions('user-1', ctx()))].sort(), [a, b].sort());
      assert.deepEqual(await strategy.takeUserSessions('user-1', ctx()), []);
      assert.deepEqual(await strategy.takeUserSessions('user-2', ctx()), [other]);
      assert.deepEqual(await strategy.takeUserSessions('nobody', ctx()), []);
    });
  });
}
