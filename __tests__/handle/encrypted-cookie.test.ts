/**
 * `encrypt: true` on the cookie strategy, through real SvelteKit: the client carries the data but
 * cannot read it; secret rotation seals it again; switching the option on or off loses nothing.
 */
import { SessionConfigError } from '../../src/errors.js';
import { handleSession } from '../../src/handle.js';
import { AesGcmCipher } from '../../src/services/aes-gcm-cipher.js';
import { base64urlToBytes } from '../../src/services/base64url.js';
import { HmacSigner } from '../../src/services/hmac-signer.js';
import { WebCryptoAesGcmCipher } from '../../src/services/web-crypto-aes-gcm-cipher.js';
import { Tokens } from '../../src/tokens.js';
import type { HandleSessionOptions } from '../../src/types.js';
import { ops, results } from '../helpers/kit-app.js';
import { SECRET, sessionApp, sessionCookies } from '../helpers/session-app.js';

const OLD = 'the-old-secret-0123456789abcdef-xyz';
const NEW = 'the-new-secret-0123456789abcdef-xyz';
const sealed: HandleSessionOptions['adapter'] = { name: 'cookie', options: { encrypt: true } };

/** The parts of an envelope `1.<id>.<created>.<expires>.<payload>.<signature>`. */
function parts(value: string) {
  const [version, id, created, expires, payload, signature] = value.split('.');
  return { version, id, created, expires, payload, signature };
}

/** Everything a reader of the cookie could decode from it: each base64url part as UTF-8. */
function readable(value: string): string {
  return value
    .split('.')
    .map((part) => Buffer.from(base64urlToBytes(part) ?? new Uint8Array()).toString('utf8'))
    .join(' ');
}

describe('encrypt: true (cookie strategy)', () => {
  it('keeps the data across requests while the cookie shows none of it', async () => {
    const { browser } = await sessionApp({ adapter: sealed });
    const b = browser();
    await b.get(`/page${ops(['set', 'card', 'visa-4111-1111'], ['set', 'role', 'admin'])}`);
    const value = b.cookies().__sid;
    expect(parts(value).payload).toMatch(/^A/);
    for (const secret of ['visa-4111-1111', 'admin', 'card', 'role']) {
      expect(value).not.toContain(secret);
      expect(readable(value)).not.toContain(secret);
    }
    expect(await results(await b.get(`/page${ops(['get', 'card'], ['get', 'role'])}`))).toEqual(['visa-4111-1111', 'admin']);
  });

  it('seals the same data with a new nonce each time: equal sessions give unequal cookies', async () => {
    const { browser } = await sessionApp({ adapter: sealed });
    const [a, b] = [browser(), browser()];
    await a.get(`/page${ops(['set', 'x', 1])}`);
    await b.get(`/page${ops(['set', 'x', 1])}`);
    expect(parts(a.cookies().__sid).payload).not.toBe(parts(b.cookies().__sid).payload);
  });

  it('the sealed payload opens with the AES-256-GCM key of the current secret only', async () => {
    const { browser } = await sessionApp({ adapter: sealed });
    const b = browser();
    await b.get(`/page${ops(['set', 'x', 'y'])}`);
    const { payload } = parts(b.cookies().__sid);
    expect(new AesGcmCipher({ secrets: [SECRET], cookieName: '__sid' }).open(payload)).toEqual({ text: '{"x":"y"}', rotated: false });
    expect(new AesGcmCipher({ secrets: [OLD], cookieName: '__sid' }).open(payload)).toBeNull();
  });

  it('a sealed payload that does not open gives a fresh session, even with a valid signature', async () => {
    const { browser, app } = await sessionApp({ adapter: sealed });
    const b = browser();
    await b.get(`/page${ops(['set', 'role', 'user'])}`);
    const p = parts(b.cookies().__sid);
    const bytes = base64urlToBytes(p.payload)!;
    bytes[bytes.length - 1] ^= 1; // the last byte of the GCM tag
    const signed = [p.version, p.id, p.created, p.expires, Buffer.from(bytes).toString('base64url')].join('.');
    const signature = await new HmacSigner({ secrets: [SECRET] }).sign(`__sid=${signed}`);
    b.setCookie('__sid', `${signed}.${signature}`);
    const response = await b.get(`/page${ops(['get', 'role'], ['id'])}`);
    expect(response.status).toBe(200);
    expect(await results(response)).toEqual([null, '']);
    expect(app.errors()).toEqual([]);
  });

  it('a cookie sealed under an old secret is opened, then sealed again under the current one in the same response', async () => {
    const before = await sessionApp({ adapter: sealed, session: { secrets: [OLD] } });
    const b = before.browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    const oldCookie = b.cookies().__sid;

    const rotated = await sessionApp({ adapter: sealed, session: { secrets: [NEW, OLD] } });
    const moved = rotated.browser();
    moved.setCookie('__sid', oldCookie);
    const response = await moved.get(`/page${ops(['get', 'a'])}`);
    expect(await results(response)).toEqual([1]);
    expect(sessionCookies(response)).toHaveLength(1);
    const resealed = parts(moved.cookies().__sid).payload;
    expect(new AesGcmCipher({ secrets: [NEW], cookieName: '__sid' }).open(resealed)).toEqual({ text: '{"a":1}', rotated: false });
    expect(new AesGcmCipher({ secrets: [OLD], cookieName: '__sid' }).open(resealed)).toBeNull();
    // Written once: the next request sends no cookie.
    expect(sessionCookies(await moved.get(`/page${ops(['get', 'a'])}`))).toEqual([]);

    const after = await sessionApp({ adapter: sealed, session: { secrets: [NEW] } });
    const check = after.browser();
    check.setCookie('__sid', moved.cookies().__sid);
    expect(await results(await check.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
    check.setCookie('__sid', oldCookie);
    expect(await results(await check.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
  });

  it('turning encrypt on keeps plain sessions and seals them in the next response; turning it off unseals them', async () => {
    const plainApp = await sessionApp({ adapter: { name: 'cookie' } });
    const b = plainApp.browser();
    await b.get(`/page${ops(['set', 'cart', [1, 2]])}`);
    const plain = b.cookies().__sid;
    expect(parts(plain).payload).toMatch(/^e/);

    const on = await sessionApp({ adapter: sealed });
    const c = on.browser();
    c.setCookie('__sid', plain);
    const first = await c.get(`/page${ops(['get', 'cart'])}`);
    expect(await results(first)).toEqual([[1, 2]]);
    expect(sessionCookies(first)).toHaveLength(1);
    const sealedCookie = c.cookies().__sid;
    expect(parts(sealedCookie).payload).toMatch(/^A/);
    expect(parts(sealedCookie).id).toBe(parts(plain).id);
    expect(sessionCookies(await c.get(`/page${ops(['get', 'cart'])}`))).toEqual([]);

    const off = await sessionApp({ adapter: { name: 'cookie' } });
    const d = off.browser();
    d.setCookie('__sid', sealedCookie);
    const back = await d.get(`/page${ops(['get', 'cart'])}`);
    expect(await results(back)).toEqual([[1, 2]]);
    expect(parts(d.cookies().__sid).payload).toMatch(/^e/);
  });

  it('chunks a large sealed session and reads it back', async () => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie', options: { encrypt: true, chunk: true } } });
    const b = browser();
    const cart = Array.from({ length: 100 }, (_, i) => ({ sku: `SKU-${i}`, name: `Item number ${i}` }));
    const response = await b.get(`/page${ops(['set', 'cart', cart])}`);
    expect(sessionCookies(response).map((h) => h.split('=')[0])).toEqual(['__sid', '__sid.1']);
    expect(Object.values(b.cookies()).join('')).not.toContain('SKU-');
    expect(await results(await b.get(`/page${ops(['get', 'cart'])}`))).toEqual([cart]);
  });

  it('works with the Web Crypto cipher, which answers with a promise', async () => {
    const web = await sessionApp({ adapter: sealed }, undefined, (services) =>
      services.register(Tokens.Cipher, { useValue: new WebCryptoAesGcmCipher({ secrets: [SECRET], cookieName: '__sid' }) })
    );
    const b = web.browser();
    await b.get(`/page${ops(['set', 'n', 1])}`);
    expect(await results(await b.get(`/page${ops(['incr', 'n'])}`))).toEqual([2]);
    const node = (await sessionApp({ adapter: sealed })).browser();
    node.setCookie('__sid', b.cookies().__sid);
    expect(await results(await node.get(`/page${ops(['get', 'n'])}`))).toEqual([2]);
  });

  it('refuses an encrypt option that is not a boolean, when handleSession() is called', () => {
    expect(() => handleSession({ adapter: { name: 'cookie', options: { encrypt: 'yes' as never } } })).toThrow(SessionConfigError);
    expect(() => handleSession({ adapter: { name: 'cookie', options: { encrypt: 'yes' as never } } })).toThrow(/adapter\.options\.encrypt.*must be true or false/);
  });
});
