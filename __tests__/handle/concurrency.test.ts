/**
 * Concurrent requests of one session (SPEC §6, memory): no lost updates, and no resurrection of a
 * destroyed session by a request that was still in flight. Real SvelteKit, requests interleaved
 * by holding one of them inside the handle.
 */
import { SystemClock } from '../../src/services/clock.js';
import { NanoidGenerator } from '../../src/services/id-generator.js';
import { MemoryStrategy } from '../../src/strategies/memory-strategy.js';
import { Tokens } from '../../src/tokens.js';
import { gate } from '../helpers/gate.js';
import { MapStrategy } from '../helpers/map-strategy.js';
import { ops, results } from '../helpers/kit-app.js';
import { sessionApp, sessionCookies } from '../helpers/session-app.js';

describe('MemoryStrategy under concurrent requests', () => {
  it('two requests changing different keys of one session both keep their change', async () => {
    const { handle, release } = gate();
    const { browser } = await sessionApp({ adapter: { name: 'memory' } }, handle);
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 0], ['set', 'b', 0])}`);
    const slow = b.get(`/api${ops(['set', 'a', 1])}&hold`);
    const fast = await b.get(`/api${ops(['set', 'b', 2])}`);
    expect(fast.status).toBe(200);
    release();
    expect((await slow).status).toBe(200);
    expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{ a: 1, b: 2 }]);
  });

  it('a request in flight cannot bring back a session destroyed meanwhile', async () => {
    const { handle, release } = gate();
    const { browser } = await sessionApp({ adapter: { name: 'memory' } }, handle);
    const b = browser();
    await b.get(`/page${ops(['set', 'user', 'ann'])}`);
    const stolen = b.cookies().__sid;
    const inFlight = b.get(`/api${ops(['set', 'cart', 3])}&hold`);
    const logout = await b.get(`/api${ops(['destroy'])}`);
    expect(sessionCookies(logout)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
    release();
    const late = await inFlight;
    expect(late.status).toBe(200);
    // It does not re-create the record, and tells the browser to forget the cookie.
    expect(sessionCookies(late)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
    const replay = browser();
    replay.setCookie('__sid', stolen);
    expect(await results(await replay.get(`/page${ops(['data'], ['id'])}`))).toEqual([{}, '']);
  });

  it('a request in flight cannot bring back a destroyed session by regenerate(): it ends anonymous', async () => {
    const { handle, release } = gate();
    const store = new MemoryStrategy({}, new SystemClock(), new NanoidGenerator());
    const { browser } = await sessionApp({ adapter: { name: 'memory' } }, handle, (s) => s.register(Tokens.Strategy, { useValue: store }));
    const b = browser();
    await b.get(`/page${ops(['set', 'user', 'victim'])}`);
    const stolen = browser();
    stolen.setCookie('__sid', b.cookies().__sid);
    const inFlight = stolen.get(`/api${ops(['regenerate'], ['id'], ['get', 'user'])}&hold`);
    await b.get(`/api${ops(['destroy'])}`);
    expect(store.size).toBe(0);
    release();
    const late = await inFlight;
    expect(late.status).toBe(200);
    expect(await results(late)).toEqual([null, '', null]);
    expect(sessionCookies(late)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
    expect(store.size).toBe(0);
    expect(await results(await stolen.get(`/page${ops(['get', 'user'])}`))).toEqual([null]);
  });

  it("a store of the user's own whose updateData() updates only existing records: a destroy() between the engine's read and write is not undone", async () => {
    // The default applyChanges() reads, then writes; this store holds one chosen read until the
    // test lets it go, after the other request destroyed the session.
    let go!: () => void;
    const held = new Promise<void>((resolve) => (go = resolve));
    let reached!: () => void;
    const atRead = new Promise<void>((resolve) => (reached = resolve));
    class Racy extends MapStrategy {
      calls = 0;
      holdAt = 0;
      override async readData(id: string) {
        const row = await super.readData(id);
        if (++this.calls === this.holdAt) {
          reached();
          await held;
        }
        return row;
      }
    }
    const store = new Racy();
    const { browser } = await sessionApp({ adapter: { strategy: store } });
    const b = browser();
    await b.get(`/page${ops(['set', 'user', 'victim'])}`);
    const stolen = browser();
    stolen.setCookie('__sid', b.cookies().__sid);
    store.holdAt = store.calls + 2; // its load's read, then applyChanges()'s: hold that one
    const inFlight = stolen.get(`/api${ops(['set', 'cart', 3])}`);
    await atRead;
    await b.get(`/api${ops(['destroy'])}`);
    expect(store.rows.size).toBe(0);
    go();
    const late = await inFlight;
    expect(late.status).toBe(200);
    expect(sessionCookies(late)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
    expect(store.rows.size).toBe(0);
  });

  it('with the cookie strategy concurrent writes are last-writer-wins (documented)', async () => {
    const { handle, release } = gate();
    const { browser } = await sessionApp({ adapter: { name: 'cookie' } }, handle);
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 0], ['set', 'b', 0])}`);
    const slow = b.get(`/api${ops(['set', 'a', 1])}&hold`);
    await b.get(`/api${ops(['set', 'b', 2])}`);
    release();
    await slow;
    expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{ a: 1, b: 0 }]);
  });
});
