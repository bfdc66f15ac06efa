/**
 * The session contract (SPEC §3-§5), run against every strategy through a real SvelteKit app:
 * each request goes through SvelteKit's whole pipeline (hooks, loads, actions, cookies).
 */
import { jest } from '@jest/globals';
import { sequence } from '@sveltejs/kit/hooks';
import { error, redirect, type Handle } from '@sveltejs/kit';
import { resetWarnings } from '../../src/config.js';
import { HmacSigner } from '../../src/services/hmac-signer.js';
import { MemoryStrategy } from '../../src/strategies/memory-strategy.js';
import type { HandleSessionOptions } from '../../src/types.js';
import { ops, opsField, results } from '../helpers/kit-app.js';
import { sessionApp, sessionCookies } from '../helpers/session-app.js';

const strategies: Array<[string, HandleSessionOptions['adapter']]> = [
  ['cookie', { name: 'cookie' }],
  ['memory', { name: 'memory' }]
];

describe.each(strategies)('session contract: %s strategy', (_name, adapter) => {
  const setup = (options: HandleSessionOptions = {}, inner?: Handle) => sessionApp({ adapter, ...options }, inner);

  afterEach(() => jest.restoreAllMocks());

  describe('lazy sessions (§4.1)', () => {
    it('gives a visitor who only reads no cookie, no store call and no cryptography', async () => {
      const sign = jest.spyOn(HmacSigner.prototype, 'sign');
      const verify = jest.spyOn(HmacSigner.prototype, 'verify');
      const reads = jest.spyOn(MemoryStrategy.prototype, 'readData');
      const creates = jest.spyOn(MemoryStrategy.prototype, 'createData');
      const { browser } = await setup();
      const b = browser();
      const response = await b.get(`/page${ops(['get', 'views'], ['has', 'x'], ['data'], ['id'])}`);
      expect(response.status).toBe(200);
      expect(await results(response)).toEqual([null, false, {}, '']);
      expect(response.headers.getSetCookie()).toEqual([]);
      expect((await b.get('/nothing')).headers.getSetCookie()).toEqual([]);
      expect([sign, verify, reads, creates].map((s) => s.mock.calls.length)).toEqual([0, 0, 0, 0]);
    });
  });

  describe('one write per request (§4.2)', () => {
    it('many changes in one request make one write and one Set-Cookie', async () => {
      const creates = jest.spyOn(MemoryStrategy.prototype, 'createData');
      const applies = jest.spyOn(MemoryStrategy.prototype, 'applyChanges');
      const sign = jest.spyOn(HmacSigner.prototype, 'sign');
      const { browser } = await setup();
      const b = browser();
      const first = await b.get(`/page${ops(['set', 'a', 1], ['set', 'b', 2], ['flash', 'c', 3], ['unset', 'a'], ['incr', 'n'], ['incr', 'n'])}`);
      expect(await results(first)).toEqual([null, null, null, null, 1, 2]);
      expect(sessionCookies(first)).toHaveLength(1);
      expect(sign).toHaveBeenCalledTimes(1);
      if (adapter!.name === 'memory') expect(creates).toHaveBeenCalledTimes(1);

      const second = await b.get(`/page${ops(['incr', 'n'], ['set', 'd', 'x'], ['incr', 'n'])}`);
      expect(await results(second)).toEqual([3, null, 4]);
      // The cookie strategy's data is in the cookie: a new one. A store's cookie (id and expiry)
      // is sent again only once the expiry moves by a step (see lifetime, below): not yet here.
      expect(sessionCookies(second)).toHaveLength(adapter!.name === 'memory' ? 0 : 1);
      if (adapter!.name === 'memory') expect(applies).toHaveBeenCalledTimes(1);
      expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{ b: 2, n: 4, d: 'x', c: 3 }]);
    });

    it('a request that changes nothing writes nothing and sends no Set-Cookie', async () => {
      const { browser } = await setup();
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      const applies = jest.spyOn(MemoryStrategy.prototype, 'applyChanges');
      const sign = jest.spyOn(HmacSigner.prototype, 'sign');
      for (const path of [`/page${ops(['get', 'a'], ['has', 'a'])}`, `/page${ops(['set', 'a', 1])}`, `/page${ops(['unset', 'zz'])}`, '/nothing']) {
        const response = await b.get(path);
        expect(response.status).toBe(200);
        expect(response.headers.getSetCookie()).toEqual([]);
      }
      expect(applies).not.toHaveBeenCalled();
      expect(sign).not.toHaveBeenCalled();
    });
  });

  describe('every response carries the Set-Cookie (§4.3)', () => {
    const write = (key: string) => ops(['set', key, 'v']);

    it.each([
      ['a page', (b: Browser) => b.get(`/page${write('k')}`), 200],
      ['a __data.json request', (b: Browser) => b.get(`/page/__data.json${write('k')}`), 200],
      ['a +server.ts GET', (b: Browser) => b.get(`/api${write('k')}`), 200],
      ['a +server.ts POST', (b: Browser) => b.request(`/api${write('k')}`, { method: 'POST', headers: { origin: b.origin } }), 200],
      ['an endpoint returning a fetch() response (immutable headers)', (b: Browser) => b.get(`/api/fetched${write('k')}`), 200],
      ['an error page', (b: Browser) => b.get(`/error-page${write('k')}`), 418],
      ['a redirect() from a load', (b: Browser) => b.get(`/redirect-load${write('k')}`), 303],
      ['a form action', (b: Browser) => b.post('/action', { ops: opsField(['set', 'k', 'v']) }), 200],
      ['a form action with use:enhance', (b: Browser) => b.post('/action', { ops: opsField(['set', 'k', 'v']) }, { enhanced: true }), 200],
      ['a form action that redirects', (b: Browser) => b.post('/action', { ops: opsField(['set', 'k', 'v']), redirect: '/page' }), 303],
      ['an enhanced form action that redirects', (b: Browser) => b.post('/action', { ops: opsField(['set', 'k', 'v']), redirect: '/page' }, { enhanced: true }), 200]
    ] as const)('on %s', async (_what, send, status) => {
      const { browser } = await setup();
      const b = browser();
      const response = await send(b);
      expect(response.status).toBe(status);
      expect(sessionCookies(response)).toHaveLength(1);
      expect(await results(await b.get(`/page${ops(['get', 'k'])}`))).toEqual(['v']);
    });

    it.each([
      ['redirect()', () => redirect(303, '/page'), 303],
      ['error()', () => error(401, 'not you'), 401]
    ] as const)('on a %s thrown by the handle that runs inside', async (_what, thrower, status) => {
      const inner: Handle = async ({ event, resolve }) => {
        if (event.url.searchParams.has('throw')) {
          await event.locals.session.set('k', 'v');
          thrower();
        }
        return resolve(event);
      };
      const { browser } = await setup({}, inner);
      const b = browser();
      const response = await b.get('/nothing?throw');
      expect(response.status).toBe(status);
      expect(sessionCookies(response)).toHaveLength(1);
      expect(await results(await b.get(`/page${ops(['get', 'k'])}`))).toEqual(['v']);
    });

    it('on a redirect() thrown by a later handle in sequence()', async () => {
      const { app, browser } = await setup();
      const later: Handle = async ({ event, resolve }) => {
        if (event.url.searchParams.has('throw')) {
          await event.locals.session.set('k', 'v');
          redirect(303, '/page');
        }
        return resolve(event);
      };
      const current = (globalThis as { __SESSION_TEST_HANDLE__?: Handle }).__SESSION_TEST_HANDLE__!;
      app.useHandle(sequence(current, later));
      const b = browser();
      const response = await b.get('/nothing?throw');
      expect(response.status).toBe(303);
      expect(sessionCookies(response)).toHaveLength(1);
      expect(await results(await b.get(`/page${ops(['get', 'k'])}`))).toEqual(['v']);
    });
  });

  describe('flash (§4.4)', () => {
    it('is readable until the first request that reads it, by every load of that request', async () => {
      const { browser } = await setup();
      const b = browser();
      await b.get(`/page${ops(['flash', 'msg', 'saved'])}`);
      expect(await results(await b.get(`/page${ops(['has', 'msg'])}`))).toEqual([true]);
      const parallel = await b.get(`/parallel${ops(['get', 'msg'], ['get', 'msg'])}`);
      const html = await parallel.clone().text();
      expect(await results(parallel.clone(), { key: 'layoutResults' })).toEqual(['saved', 'saved']);
      expect(await results(new Response(html, { headers: parallel.headers }), { key: 'pageResults' })).toEqual(['saved', 'saved']);
      expect(await results(await b.get(`/page${ops(['get', 'msg'], ['has', 'msg'], ['data'])}`))).toEqual([null, false, {}]);
    });

    it('reading data consumes flash values and shows them under their own names', async () => {
      const { browser } = await setup();
      const b = browser();
      await b.get(`/page${ops(['set', 'v', 1], ['flash', 'msg', 'hi'])}`);
      expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{ v: 1, msg: 'hi' }]);
      expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{ v: 1 }]);
    });

    it('a flash set by an action that redirects is shown once, after the redirect', async () => {
      const { browser } = await setup();
      const b = browser();
      const posted = await b.post('/action', { ops: opsField(['flash', 'msg', 'Welcome']), redirect: '/page' });
      expect(posted.status).toBe(303);
      expect(await results(await b.get(`/page${ops(['get', 'msg'])}`))).toEqual(['Welcome']);
      expect(await results(await b.get(`/page${ops(['get', 'msg'])}`))).toEqual([null]);
    });
  });

  describe('regenerate, destroy, save', () => {
    it('regenerate() keeps the data under a new id, and the old cookie no longer opens it', async () => {
      const { browser } = await setup();
      const b = browser();
      await b.get(`/page${ops(['set', 'user', 'ann'])}`);
      const [oldId] = await results(await b.get(`/page${ops(['id'])}`));
      const oldCookie = b.cookies().__sid;
      const regenerated = await b.get(`/page${ops(['regenerate'], ['set', 'role', 'admin'])}`);
      expect(sessionCookies(regenerated)).toHaveLength(1);
      const [newId, data] = await results(await b.get(`/page${ops(['id'], ['data'])}`));
      expect(newId).not.toBe(oldId);
      expect(data).toEqual({ user: 'ann', role: 'admin' });
      if (adapter!.name === 'memory') {
        const attacker = browser();
        attacker.setCookie('__sid', oldCookie);
        expect(await results(await attacker.get(`/page${ops(['id'], ['data'])}`))).toEqual(['', {}]);
      }
    });

    it('destroy() deletes the record and expires the cookie; a later set() starts a new session', async () => {
      const { browser } = await setup();
      const b = browser();
      await b.get(`/page${ops(['set', 'user', 'ann'])}`);
      const [oldId] = await results(await b.get(`/page${ops(['id'])}`));
      const oldCookie = b.cookies().__sid;
      const destroyed = await b.get(`/page${ops(['destroy'])}`);
      expect(sessionCookies(destroyed)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
      expect(b.cookies().__sid).toBeUndefined();
      await b.get(`/page${ops(['set', 'user', 'ann'])}`);
      const resumed = await b.get(`/page${ops(['destroy'], ['set', 'cart', 1], ['id'])}`);
      expect(sessionCookies(resumed)).toHaveLength(1);
      const [newId, data] = await results(await b.get(`/page${ops(['id'], ['data'])}`));
      expect(newId).not.toBe(oldId);
      expect(data).toEqual({ cart: 1 });
      if (adapter!.name === 'memory') {
        const replay = browser();
        replay.setCookie('__sid', oldCookie);
        expect(await results(await replay.get(`/page${ops(['data'])}`))).toEqual([{}]);
      }
    });

    it('save() persists mid-request, and later changes still reach the store at the end', async () => {
      const { browser } = await setup();
      const b = browser();
      const response = await b.get(`/page${ops(['set', 'a', 1], ['save'], ['id'], ['set', 'b', 2])}`);
      const [, , id] = await results(response);
      expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(sessionCookies(response)).toHaveLength(1);
      expect(await results(await b.get(`/page${ops(['id'], ['data'])}`))).toEqual([id, { a: 1, b: 2 }]);
    });

    it('save() as the last change still sends its cookie (nothing is pending when the request ends)', async () => {
      const { browser } = await setup();
      const b = browser();
      const response = await b.get(`/page${ops(['set', 'a', 1], ['save'])}`);
      expect(sessionCookies(response)).toHaveLength(1);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
    });
  });

  describe('the id (§3)', () => {
    it('is the new id as soon as regenerate() resolves, and stays so in the next request', async () => {
      const { browser } = await setup();
      const b = browser();
      await b.get(`/page${ops(['set', 'user', 'ann'])}`);
      const [oldId] = await results(await b.get(`/page${ops(['id'])}`));
      const [before, , after] = await results(await b.get(`/page${ops(['id'], ['regenerate'], ['id'])}`));
      expect(before).toBe(oldId);
      expect(after).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(after).not.toBe(oldId);
      expect(await results(await b.get(`/page${ops(['id'], ['get', 'user'])}`))).toEqual([after, 'ann']);
    });

    it("is '' after destroy() and a new session's first id after save()", async () => {
      const { browser } = await setup();
      const b = browser();
      const [none, , , first] = await results(await b.get(`/page${ops(['id'], ['set', 'a', 1], ['save'], ['id'])}`));
      expect(none).toBe('');
      expect(first).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(await results(await b.get(`/page${ops(['id'], ['destroy'], ['id'])}`))).toEqual([first, null, '']);
    });
  });

  describe("1.1.3's members (§11)", () => {
    /** A handle inside handleSession that calls `method(...args)` on the session when the URL has ?call. */
    const calling = (method: string, ...args: unknown[]): Handle => async ({ event, resolve }) => {
      const session = event.locals.session as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      if (event.url.searchParams.has('call')) await session[method](...args);
      return resolve(event);
    };
    const withCall = (list: Parameters<typeof ops>) => `/page${ops(...list)}&call`;

    it('destory() is destroy(), with one deprecation warning per process', async () => {
      resetWarnings();
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
      const { browser } = await setup({}, calling('destory'));
      const b = browser();
      await b.get(`/page${ops(['set', 'user', 'ann'])}`);
      const ended = await b.get(withCall([['id'], ['data']]));
      expect(await results(ended)).toEqual(['', {}]);
      expect(sessionCookies(ended)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
      await b.get(`/page${ops(['set', 'user', 'bob'])}`);
      expect(await results(await b.get(withCall([['data']])))).toEqual([{}]);
      const warnings = warn.mock.calls.filter(([message]) => /destory\(\) is deprecated/.test(String(message)));
      expect(warnings).toHaveLength(1);
    });

    it('sid is the id, and init() resolves at once', async () => {
      const seen: unknown[] = [];
      const { browser } = await setup({}, async ({ event, resolve }) => {
        const session = event.locals.session as unknown as { sid: string; id: string; init(): Promise<void> };
        await session.init();
        seen.push(session.sid === session.id, session.sid);
        return resolve(event);
      });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      const [id] = await results(await b.get(`/page${ops(['id'])}`));
      expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(seen).toEqual([true, '', true, id]);
    });

    it('updateSid(id, data) never adopts the id it is given: a fresh id, with the values replaced by data', async () => {
      jest.spyOn(console, 'warn').mockImplementation(() => {});
      const { browser } = await setup({}, calling('updateSid', 'chosen-by-the-app', { user: 'eve' }));
      const b = browser();
      await b.get(`/page${ops(['set', 'user', 'ann'], ['set', 'cart', 3])}`);
      const [oldId] = await results(await b.get(`/page${ops(['id'])}`));
      const [id, data] = await results(await b.get(withCall([['id'], ['data']])));
      expect(id).not.toBe('chosen-by-the-app');
      expect(id).not.toBe(oldId);
      expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(data).toEqual({ user: 'eve' });
      expect(await results(await b.get(`/page${ops(['id'], ['data'])}`))).toEqual([id, { user: 'eve' }]);
    });
  });

  describe('values (§3)', () => {
    it('sees only its own keys: nothing of Object.prototype', async () => {
      const { browser } = await setup();
      const b = browser();
      const probe = ops(['get', 'constructor'], ['get', 'toString'], ['has', '__proto__'], ['has', 'hasOwnProperty'], ['get', '__proto__']);
      expect(await results(await b.get(`/page${probe}`))).toEqual([null, null, false, false, null]);
      await b.get(`/page${ops(['set', 'a', 1])}`);
      expect(await results(await b.get(`/page${probe}`))).toEqual([null, null, false, false, null]);
    });

    it('what set() accepts, the next request reads back: 64 levels of nesting kept, 65 refused at set()', async () => {
      const nested = (levels: number) => {
        let value: unknown = 'leaf';
        for (let i = 0; i < levels; i++) value = { a: value };
        return value;
      };
      const { browser } = await setup({ adapter: adapter!.name === 'cookie' ? { name: 'cookie', options: { chunk: true } } : adapter });
      const b = browser();
      expect(await results(await b.get(`/api${ops(['set', 'tree', nested(64)], ['set', 'n', 1])}`))).toEqual([null, null]);
      expect(await results(await b.get(`/api${ops(['get', 'tree'], ['get', 'n'])}`))).toEqual([nested(64), 1]);
      const [refused] = await results(await b.get(`/api${ops(['set', 'tree', nested(3000)])}`));
      expect(refused).toEqual({ error: 'TypeError', message: expect.stringMatching(/"tree" cannot be stored: it is nested more than 64 levels deep/) });
      expect(await results(await b.get(`/api${ops(['get', 'n'])}`))).toEqual([1]);
    });

    it('refuses __proto__ as a key with a TypeError naming it', async () => {
      const { browser } = await setup();
      const b = browser();
      const [refused] = await results(await b.get(`/page${ops(['set', '__proto__', 1])}`));
      expect(refused).toEqual({ error: 'TypeError', message: expect.stringMatching(/"__proto__" cannot be a session key/) });
    });
  });

  describe('lifetime (§5)', () => {
    it('maxAge sets Max-Age, and the server refuses the cookie once it has expired, even if replayed', async () => {
      const { browser, clock } = await setup({ cookie: { maxAge: 60 } });
      const b = browser();
      const first = await b.get(`/page${ops(['set', 'a', 1])}`);
      expect(sessionCookies(first)[0]).toMatch(/Max-Age=60;/);
      clock.advance(59);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
      clock.advance(1);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
    });

    it('a session lives its whole maxAge, though the envelope counts in seconds (never rounded down)', async () => {
      const { browser, clock } = await setup({ cookie: { maxAge: 60 } });
      const b = browser();
      clock.time += 999; // written at .999 of a second
      await b.get(`/page${ops(['set', 'a', 1])}`);
      clock.time += 60_000 - 1; // 1 ms before maxAge is up
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
    });

    it('without maxAge the cookie is a browser-session cookie and the server forgets it after a day', async () => {
      const { browser, clock } = await setup();
      const b = browser();
      const first = await b.get(`/page${ops(['set', 'a', 1])}`);
      expect(sessionCookies(first)[0]).not.toMatch(/Max-Age|Expires/);
      clock.advance(86_399);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
      clock.advance(1);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
    });

    it('a write moves the expiry; a store re-signs its id cookie only when that moves it by a step', async () => {
      // maxAge 600 s: the step is min(60 s, half the lifetime) = 60 s.
      const { browser, clock } = await setup({ cookie: { maxAge: 600 } });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      clock.advance(30);
      const within = await b.get(`/page${ops(['set', 'a', 2])}`);
      expect(sessionCookies(within)).toHaveLength(adapter!.name === 'memory' ? 0 : 1);
      clock.advance(40); // 70 s after the first write, 40 s after the last
      const past = await b.get(`/page${ops(['set', 'a', 3])}`);
      expect(sessionCookies(past)).toEqual([expect.stringMatching(/^__sid=.*Max-Age=600;/)]);
      // Alive until 600 s after the last write that moved the expiry, and not a second longer.
      clock.advance(599);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([3]);
      clock.advance(1);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);

      // A write within the step does not move a store session's expiry (the cookie strategy's does).
      const c = browser();
      await c.get(`/page${ops(['set', 'a', 1])}`);
      clock.advance(30);
      await c.get(`/page${ops(['set', 'a', 2])}`);
      clock.advance(570); // 600 s after the first write
      expect(await results(await c.get(`/page${ops(['get', 'a'])}`))).toEqual([adapter!.name === 'memory' ? null : 2]);
    });

    it('rolling pushes the expiry forward on use, at most once per interval', async () => {
      const { browser, clock } = await setup({ cookie: { maxAge: 600 }, session: { rolling: 60 } });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      clock.advance(30);
      expect(sessionCookies(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([]);
      clock.advance(30);
      const refreshed = await b.get(`/page${ops(['get', 'a'])}`);
      expect(sessionCookies(refreshed)).toEqual([expect.stringMatching(/Max-Age=600;/)]);
      clock.advance(599);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
    });

    it('rolling does not write once the expiry sits at the absolute cap', async () => {
      const { browser, clock } = await setup({ cookie: { maxAge: 600 }, session: { rolling: 60, absoluteTimeout: 300 } });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      clock.advance(100);
      expect(sessionCookies(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([]);
    });

    it('absoluteTimeout ends a session at its age limit, whatever the activity', async () => {
      const { browser, clock } = await setup({ cookie: { maxAge: 600 }, session: { rolling: 1, absoluteTimeout: 100 } });
      const b = browser();
      await b.get(`/page${ops(['set', 'a', 1])}`);
      for (let t = 0; t < 9; t++) {
        clock.advance(10);
        expect(await results(await b.get(`/page${ops(['incr', 'n'])}`))).toEqual([t + 1]);
      }
      clock.advance(10);
      expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
    });
  });

  it('puts the parsed request cookies on locals.cookies', async () => {
    let seen: unknown;
    const { browser } = await setup({}, async ({ event, resolve }) => {
      seen = event.locals.cookies;
      return resolve(event);
    });
    const b = browser();
    b.setCookie('theme', 'dark mode');
    await b.get('/nothing');
    expect(seen).toEqual({ theme: 'dark mode' });
  });
});

type Browser = ReturnType<Awaited<ReturnType<typeof sessionApp>>['browser']>;
