/**
 * Concurrent requests of one session (SPEC §6, memory): no lost updates, and no resurrection of a
 * destroyed session by a request that was still in flight. Real SvelteKit, requests interleaved
 * by holding one of them inside the handle.
 */
import { gate } from '../helpers/gate.js';
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
