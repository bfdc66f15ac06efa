/**
 * When the session cookie is Secure (SPEC §2): everywhere but plain-http loopback hosts, where
 * WebKit would drop it (Chromium and Firefox keep Secure cookies from http://localhost, WebKit
 * keeps none from plain http). Real SvelteKit, requests at each origin.
 */
import { jest } from '@jest/globals';
import { resetWarnings } from '../../src/config.js';
import { ops } from '../helpers/kit-app.js';
import { sessionApp } from '../helpers/session-app.js';

describe('the Secure attribute of the session cookie', () => {
  let warn: jest.SpiedFunction<typeof console.warn>;
  beforeEach(() => {
    resetWarnings();
    warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => warn.mockRestore());

  const secureAt = async (origin: string, options: Parameters<typeof sessionApp>[0] = {}, name = '__sid') => {
    const { browser } = await sessionApp(options);
    const b = browser(origin);
    await b.get(`/page${ops(['set', 'a', 1])}`);
    return b.cookie(name)?.secure;
  };

  it.each([
    ['http://localhost:5173', false],
    ['http://127.0.0.1:3000', false],
    ['http://127.1.2.3', false],
    ['http://[::1]:3000', false],
    ['http://app.localhost:5173', false],
    ['https://localhost', true],
    ['https://127.0.0.1', true],
    ['http://example.com', true],
    ['http://192.168.1.20:3000', true],
    ['https://example.com', true]
  ])('by default at %s: Secure is %s', async (origin, secure) => {
    expect(await secureAt(origin)).toBe(secure);
    expect(warn).not.toHaveBeenCalled();
  });

  it.each([
    [{ session: { key: '__Host-sid' } }, '__Host-sid', /starts with __Host-/],
    [{ session: { key: '__Secure-sid' } }, '__Secure-sid', /starts with __Secure-/],
    [{ cookie: { sameSite: 'none' as const } }, '__sid', /sameSite is 'none'/],
    [{ cookie: { secure: true } }, '__sid', /cookie\.secure is true/]
  ])('with %j on http://localhost it is Secure, and one warning names why, the browsers and the fix', async (options, name, reason) => {
    expect(await secureAt('http://localhost:5173', options, name)).toBe(true);
    expect(await secureAt('http://localhost:5173', options, name)).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
    const [message] = warn.mock.calls[0];
    expect(String(message)).toMatch(reason);
    expect(String(message)).toMatch(/Chromium and Firefox keep.*WebKit browsers \(Safari.*drop them.*https:\/\//);
  });

  it('with secure: true over https, no warning', async () => {
    expect(await secureAt('https://localhost', { cookie: { secure: true } })).toBe(true);
    expect(warn).not.toHaveBeenCalled();
  });
});
