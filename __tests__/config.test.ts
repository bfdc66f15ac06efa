import { jest } from '@jest/globals';
import { resetWarnings, SessionConfig } from '../src/config.js';
import { SessionConfigError } from '../src/errors.js';
import type { HandleSessionOptions } from '../src/types.js';

const secrets = ['config-test-secret-0123456789abcdef-xyz'];
const build = (options: HandleSessionOptions) => new SessionConfig(options);

describe('SessionConfig', () => {
  let warn: jest.SpiedFunction<typeof console.warn>;
  const env = process.env.NODE_ENV;
  beforeEach(() => {
    resetWarnings();
    warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => {
    warn.mockRestore();
    process.env.NODE_ENV = env;
  });

  it('applies the documented defaults', () => {
    const config = build({ session: { secrets } });
    expect(config.cookieName).toBe('__sid');
    expect(config.adapter).toEqual({ name: 'cookie' });
    expect(config.attributes.secure).toMatchObject({ path: '/', httpOnly: true, sameSite: 'lax', secure: true });
    expect(config.attributes.insecure).toMatchObject({ secure: false });
    expect(config.lifetime).toBe(86_400_000);
    expect(config.persistent).toBe(false);
    expect(config.rollingInterval).toBe(0);
    expect(config.chunk).toBe(false);
    expect(config.maxSize).toBe(4096);
  });

  it.each([
    [{ adapter: { name: 'mongo' } }, /`adapter\.name` is "mongo".*Use one of: 'cookie', 'memory'/],
    [{ session: { secrets: 'one' } }, /`session\.secrets` must be an array/],
    [{ session: { secrets: [''] } }, /`session\.secrets\[0\]` is an empty string/],
    [{ session: { secrets: [42] } }, /`session\.secrets\[0\]` must be a string/],
    [{ session: { key: 'a b' } }, /`session\.key`/],
    [{ cookie: { maxAge: -1 } }, /`cookie\.maxAge` must be a positive number/],
    [{ cookie: { maxAge: 401 * 86400 } }, /400 days/],
    [{ cookie: { maxAge: 60, expires: new Date() } }, /both set/],
    [{ cookie: { sameSite: 'sideways' } }, /`cookie\.sameSite`/],
    [{ cookie: { path: 'relative' } }, /`cookie\.path`/],
    [{ session: { rolling: 'yes' } }, /`session\.rolling`/],
    [{ session: { absoluteTimeout: 0 } }, /`session\.absoluteTimeout`/],
    [{ adapter: { name: 'cookie', options: { maxSize: 9000 } } }, /only applies with chunk: true/],
    [{ adapter: { name: 'cookie', options: { chunk: true, maxSize: 100_000 } } }, /maxSize.*from 4096 to 15360/],
    // Cookie-name prefixes (RFC 6265bis), matched without regard to case as browsers do.
    [{ session: { key: '__Host-sid' }, cookie: { secure: false } }, /`cookie\.secure` is false.*starts with __Host-.*Remove secure: false/],
    [{ session: { key: '__host-sid' }, cookie: { secure: false } }, /starts with __Host-/],
    [{ session: { key: '__Secure-sid' }, cookie: { secure: false } }, /starts with __Secure-/],
    [{ session: { key: '__Host-sid' }, cookie: { domain: 'example.com' } }, /`cookie\.domain` is set, but a __Host- cookie must not have a Domain/],
    [{ session: { key: '__Host-sid' }, cookie: { path: '/app' } }, /`cookie\.path` is "\/app", but a __Host- cookie must have Path=\//],
    // SameSite=None needs Secure.
    [{ cookie: { sameSite: 'none', secure: false } }, /`cookie\.sameSite` is 'none' while `cookie\.secure` is false/],
    [{ cookie: { sameSite: 'None', secure: false } }, /`cookie\.sameSite` is 'none'/],
    // Characters that would end an attribute (header injection).
    [{ cookie: { path: '/a;Domain=evil.example' } }, /`cookie\.path` contains ";".*Remove it/],
    [{ cookie: { path: '/a\r\nSet-Cookie: x=y' } }, /`cookie\.path` contains "\\r"/],
    [{ cookie: { domain: 'example.com\n' } }, /`cookie\.domain` contains "\\n"/],
    [{ cookie: { domain: '' } }, /`cookie\.domain` must be a non-empty string/],
    // What the cookie package itself cannot write.
    [{ cookie: { domain: 'exa mple.com' } }, /`cookie` cannot be written as a Set-Cookie header: option domain is invalid/]
  ])('refuses %j with a SessionConfigError naming the option and the fix', (options, message) => {
    const attempt = () => build({ session: { secrets }, ...options } as HandleSessionOptions);
    expect(attempt).toThrow(SessionConfigError);
    expect(attempt).toThrow(message);
  });

  it('a __Host- or __Secure- name, or SameSite=None, is always Secure, http://localhost included', () => {
    for (const options of [{ session: { secrets, key: '__Host-sid' } }, { session: { secrets, key: '__Secure-sid' } }, { session: { secrets }, cookie: { sameSite: 'none' as const } }]) {
      const config = build(options);
      expect(config.attributes.insecure.secure).toBe(true);
      expect(config.attributes.secure.secure).toBe(true);
      expect(config.secureExplicit).toBe(true);
    }
    expect(build({ session: { secrets, key: '__Host-sid' } }).attributes.secure).toMatchObject({ path: '/' });
    expect(build({ session: { secrets, key: '__Host-sid' } }).attributes.secure.domain).toBeUndefined();
  });

  it('accepts a __Secure- cookie with a Domain and a Path (only __Host- forbids them)', () => {
    const config = build({ session: { secrets, key: '__Secure-sid' }, cookie: { domain: 'example.com', path: '/app' } });
    expect(config.attributes.secure).toMatchObject({ domain: 'example.com', path: '/app', secure: true });
  });

  it('without secrets outside production: a random per-process secret and one warning', () => {
    process.env.NODE_ENV = 'development';
    const a = build({});
    const b = build({});
    expect(a.secrets).toEqual(b.secrets);
    expect(a.secrets[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/will not survive a restart/);
  });

  it('names an unset variable as such: secrets: [SESSION_SECRET] with SESSION_SECRET undefined, and how to set it', () => {
    for (const env of ['development', 'production']) {
      process.env.NODE_ENV = env;
      const attempt = () => build({ session: { secrets: [process.env.SURELY_NOT_SET_SESSION_SECRET as string] } });
      expect(attempt).toThrow(SessionConfigError);
      expect(attempt).toThrow(/`session\.secrets\[0\]` is undefined: the variable it is read from is not set.*\.env.*SESSION_SECRET=.*openssl rand -base64 32.*\$env\/static\/private.*\$env\/dynamic\/private/);
      expect(() => build({ session: { secrets: ['a-real-secret-of-32-characters-xyz', undefined as unknown as string] } })).toThrow(/`session\.secrets\[1\]` is undefined/);
    }
  });

  it('without secrets in production: a SessionConfigError', () => {
    process.env.NODE_ENV = 'production';
    expect(() => build({})).toThrow(SessionConfigError);
    expect(() => build({ session: { secrets: [] } })).toThrow(/`session\.secrets` is missing and NODE_ENV is production/);
  });

  it('warns once about a secret shorter than 32 characters', () => {
    build({ session: { secrets: ['short'] } });
    build({ session: { secrets: ['short'] } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/shorter than 32 characters/);
  });

  it('refuses a secret shorter than 32 characters with NODE_ENV=production, naming it, even as an older secret', () => {
    process.env.NODE_ENV = 'production';
    expect(() => build({ session: { secrets: ['abcd'] } })).toThrow(SessionConfigError);
    expect(() => build({ session: { secrets: ['abcd'] } })).toThrow(/`session\.secrets\[0\]` is 4 characters long while NODE_ENV is production.*openssl rand -base64 32/);
    expect(() => build({ session: { secrets: [secrets[0], 'x'.repeat(31)] } })).toThrow(/`session\.secrets\[1\]` is 31 characters long/);
    expect(() => build({ session: { secrets: ['x'.repeat(32)] } })).not.toThrow();
    expect(warn).not.toHaveBeenCalled();
  });

  it('warns once in production about secure: false and httpOnly: false, and not outside it', () => {
    process.env.NODE_ENV = 'development';
    build({ session: { secrets }, cookie: { secure: false, httpOnly: false } });
    expect(warn).not.toHaveBeenCalled();
    process.env.NODE_ENV = 'production';
    build({ session: { secrets }, cookie: { secure: false, httpOnly: false } });
    build({ session: { secrets }, cookie: { secure: false, httpOnly: false } });
    expect(warn.mock.calls.map(([message]) => String(message))).toEqual([
      expect.stringMatching(/cookie\.secure is false while NODE_ENV is production.*Remove secure: false/),
      expect.stringMatching(/cookie\.httpOnly is false while NODE_ENV is production.*Remove httpOnly: false/)
    ]);
  });

  it('refuses encrypt, validate and userId of the wrong type', () => {
    expect(() => build({ session: { secrets }, adapter: { name: 'cookie', options: { encrypt: 1 as never } } })).toThrow(/`adapter\.options\.encrypt` must be true or false, got 1/);
    expect(() => build({ session: { secrets, validate: 'yes' as never } })).toThrow(/`session\.validate` must be a function, got string/);
    expect(() => build({ session: { secrets, userId: 'id' as never } })).toThrow(/`session\.userId` must be a function, got string.*userId: \(data\) => data\.userId/);
  });

  it('turns maxAge into the lifetime and rolling: true into a throttle of at most a minute', () => {
    expect(build({ session: { secrets, rolling: true }, cookie: { maxAge: 3600 } })).toMatchObject({ lifetime: 3_600_000, persistent: true, rollingInterval: 60_000 });
    expect(build({ session: { secrets, rolling: true }, cookie: { maxAge: 10 } }).rollingInterval).toBe(5000);
    expect(build({ session: { secrets, rolling: 30 } }).rollingInterval).toBe(30_000);
  });

  it('caps the expiry by absoluteTimeout from creation', () => {
    const config = build({ session: { secrets, absoluteTimeout: 100 }, cookie: { maxAge: 60 } });
    expect(config.expiryAt(50_000, 0)).toBe(100_000);
    expect(config.expiryAt(10_000, 0)).toBe(70_000);
  });
});
