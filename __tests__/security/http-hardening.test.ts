/**
 * What the session does to the HTTP exchange around it, through real SvelteKit:
 * - a response that sets the session cookie is never left for a shared cache to store;
 * - the session is read from the Cookie header only (never the URL, a form field or another header).
 */
import { jest } from '@jest/globals';
import type { Handle } from '@sveltejs/kit';
import { resetWarnings } from '../../src/config.js';
import { MemoryStrategy } from '../../src/strategies/memory-strategy.js';
import type { HandleSessionOptions } from '../../src/types.js';
import { ops, results } from '../helpers/kit-app.js';
import { sessionApp, sessionCookies } from '../helpers/session-app.js';

/** An inner handle that sets the route's Cache-Control, as a page's `setHeaders` would. */
const caching =
  (value: string): Handle =>
  ({ event, resolve }) => {
    event.setHeaders({ 'cache-control': value });
    return resolve(event);
  };

describe('Cache-Control on responses that set the session cookie', () => {
  let warn: jest.SpiedFunction<typeof console.warn>;
  beforeEach(() => {
    resetWarnings();
    warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => warn.mockRestore());

  it.each([['cookie'], ['memory']] as const)('%s: a write is sent private, no-cache; a read that sets nothing is left as it was', async (name) => {
    const { browser } = await sessionApp({ adapter: { name } as HandleSessionOptions['adapter'] });
    const b = browser();
    const write = await b.get(`/page${ops(['set', 'a', 1])}`);
    expect(sessionCookies(write)).toHaveLength(1);
    expect(write.headers.get('cache-control')).toBe('private, no-cache');
    const read = await b.get(`/page${ops(['get', 'a'])}`);
    expect(sessionCookies(read)).toEqual([]);
    expect(read.headers.get('cache-control')).toBeNull();
    const logout = await b.get(`/page${ops(['destroy'])}`);
    expect(logout.headers.get('cache-control')).toBe('private, no-cache');
  });

  it('a route cached publicly loses public and s-maxage when it sets the cookie, keeps its other directives, and the app is warned once', async () => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie' } }, caching('public, max-age=600, s-maxage=3600'));
    const b = browser();
    const write = await b.get(`/page${ops(['set', 'a', 1])}`);
    expect(write.headers.get('cache-control')).toBe('private, max-age=600');
    await browser().get(`/page${ops(['set', 'a', 1])}`);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/Cache-Control: public, max-age=600, s-maxage=3600.*sent as `private, max-age=600`/);
    // A request that sets no cookie keeps the route's own caching.
    expect((await b.get(`/page${ops(['get', 'a'])}`)).headers.get('cache-control')).toBe('public, max-age=600, s-maxage=3600');
  });

  it.each([['private, max-age=60'], ['no-store'], ['max-age=0, no-store, must-revalidate']])('leaves "%s" alone', async (value) => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie' } }, caching(value));
    const write = await browser().get(`/page${ops(['set', 'a', 1])}`);
    expect(write.headers.get('cache-control')).toBe(value);
    expect(warn).not.toHaveBeenCalled();
  });

  it.each([['cdn-cache-control'], ['surrogate-control']])('a %s that lets a CDN store the response is sent no-store when the cookie is set, with a warning', async (name) => {
    const headersOf =
      (value: string): Handle =>
      ({ event, resolve }) => {
        event.setHeaders({ [name]: value });
        return resolve(event);
      };
    const { browser } = await sessionApp({ adapter: { name: 'cookie' } }, headersOf('max-age=3600'));
    const b = browser();
    const write = await b.get(`/page${ops(['set', 'a', 1])}`);
    expect(write.headers.get(name)).toBe('no-store');
    expect(write.headers.get('cache-control')).toBe('private, no-cache');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(new RegExp(`${name}: max-age=3600.*${name}: no-store`));
    // A request that sets no cookie keeps it (and, having read nothing, gets no warning).
    expect((await b.get('/nothing')).headers.get(name)).toBe('max-age=3600');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('warns once, outside production, when a page that read a session is marked for shared caching', async () => {
    const env = process.env.NODE_ENV;
    try {
      process.env.NODE_ENV = 'development';
      const { browser } = await sessionApp({ adapter: { name: 'cookie' } }, caching('public, max-age=60'));
      const b = browser();
      await b.get(`/page${ops(['set', 'user', 'ada'])}`);
      expect(warn).toHaveBeenCalledTimes(1); // the write's own warning (public given way to private)
      const read = await b.get(`/page${ops(['get', 'user'])}`);
      expect(sessionCookies(read)).toEqual([]);
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[1][0])).toMatch(/\/page read the session and is marked for shared caching \(cache-control: public, max-age=60\)/);
      await b.get(`/page${ops(['get', 'user'])}`);
      expect(warn).toHaveBeenCalledTimes(2);
      // A visitor without a session reads nothing that is anyone's: no warning for that.
      resetWarnings();
      await browser().get(`/page${ops(['get', 'user'])}`);
      expect(warn).toHaveBeenCalledTimes(2);

      process.env.NODE_ENV = 'production';
      resetWarnings();
      const quiet = await sessionApp({ adapter: { name: 'cookie' } }, caching('public, max-age=60'));
      const q = quiet.browser();
      await q.get(`/page${ops(['set', 'user', 'ada'])}`);
      const before = warn.mock.calls.length;
      await q.get(`/page${ops(['get', 'user'])}`);
      expect(warn.mock.calls.length).toBe(before);
    } finally {
      process.env.NODE_ENV = env;
    }
  });

  it('a max-age without public is made private too, without a warning', async () => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie' } }, caching('max-age=60'));
    expect((await browser().get(`/page${ops(['set', 'a', 1])}`)).headers.get('cache-control')).toBe('private, max-age=60');
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('chunk names a client sends', () => {
  it('a write expires only the chunk names the configured cap could have produced, not 110 junk ones', async () => {
    const { app, browser } = await sessionApp({ adapter: { name: 'cookie', options: { chunk: true } } });
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    const junk = Array.from({ length: 110 }, (_, i) => `__sid.${i}=x`).join('; ');
    const response = await app.respond(new Request(`http://localhost/page${ops(['set', 'a', 2])}`, { headers: { cookie: `${b.cookieHeader()}; ${junk}` } }));
    expect(await results(response)).toEqual([null]);
    const sent = response.headers.getSetCookie();
    expect(sent).toEqual([expect.stringMatching(/^__sid=1\./), expect.stringMatching(/^__sid\.1=; Max-Age=0/)]);
  });
});

describe('the session is read from the Cookie header only', () => {
  afterEach(() => jest.restoreAllMocks());

  it('a valid session cookie value in the URL, a form field or another header opens no session and reads no store', async () => {
    const { app, browser } = await sessionApp({ adapter: { name: 'memory' } });
    const b = browser();
    await b.get(`/page${ops(['set', 'user', 'ada'])}`);
    const value = b.cookies().__sid;
    const reads = jest.spyOn(MemoryStrategy.prototype, 'readData');
    const read = jest.spyOn(MemoryStrategy.prototype, 'read');
    const query = `/page${ops(['get', 'user'], ['id'])}`;
    const sid = encodeURIComponent(value);
    const attempts: Request[] = [
      new Request(`http://localhost${query}&__sid=${sid}`),
      new Request(`http://localhost${query}&sid=${sid}&session=${sid}`),
      new Request(`http://localhost${query}`, { headers: { authorization: `Bearer ${value}`, 'x-session-id': value, __sid: value } }),
      new Request(`http://localhost${query}`, { headers: { cookie2: `__sid=${value}`, 'set-cookie': `__sid=${value}` } }),
      new Request(`http://localhost/api${ops(['get', 'user'], ['id'])}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
        body: `__sid=${sid}`
      })
    ];
    for (const request of attempts) {
      const response = await app.respond(request);
      expect(response.status).toBeLessThan(500);
      if (response.status === 200) expect(await results(response)).toEqual([null, '']);
    }
    expect(reads).not.toHaveBeenCalled();
    expect(read).not.toHaveBeenCalled();

    // The same value in the Cookie header is the session (so the attempts above could have failed).
    const control = await app.respond(new Request(`http://localhost${query}`, { headers: { cookie: `__sid=${value}` } }));
    expect(await results(control)).toEqual(['ada', expect.any(String)]);
    expect(read).toHaveBeenCalledTimes(1);
  });
});
