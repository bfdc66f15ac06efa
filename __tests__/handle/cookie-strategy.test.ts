/** What only the cookie strategy does: chunking, size errors, secret rotation. Real SvelteKit. */
import { ops, results } from '../helpers/kit-app.js';
import { WebCryptoHmacSigner } from '../../src/services/web-crypto-hmac-signer.js';
import { Tokens } from '../../src/tokens.js';
import { SECRET, sessionApp, sessionCookies } from '../helpers/session-app.js';

const OLD = 'the-old-secret-0123456789abcdef-xyz';
const NEW = 'the-new-secret-0123456789abcdef-xyz';

describe('CookieSessionStrategy through handleSession', () => {
  it('chunks a large value into numbered cookies that survive, and expires chunks left over when it shrinks', async () => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie', options: { chunk: true } } });
    const b = browser();
    const cart = Array.from({ length: 100 }, (_, i) => ({ sku: `SKU-${i}`, name: `Item number ${i}`, qty: i % 5 }));
    const big = await b.get(`/api${ops(['set', 'cart', cart])}`);
    expect(sessionCookies(big).map((h) => h.split('=')[0])).toEqual(['__sid', '__sid.1']);
    // RFC 6265bis: a cookie's name and value together (without the '=') stay within 4096 bytes.
    for (const header of sessionCookies(big)) expect(header.split(';')[0].length - 1).toBeLessThanOrEqual(4096);
    expect(await results(await b.get(`/api${ops(['get', 'cart'])}`))).toEqual([cart]);

    const small = await b.get(`/api${ops(['set', 'cart', []])}`);
    expect(sessionCookies(small)).toEqual([expect.stringMatching(/^__sid=1\./), expect.stringMatching(/^__sid\.1=; Max-Age=0/)]);
    expect(Object.keys(b.cookies())).toEqual(['__sid']);
    expect(await results(await b.get(`/api${ops(['get', 'cart'])}`))).toEqual([[]]);
  });

  it('fails a write too large for one cookie without chunk with a SessionError naming size, limit and the way out', async () => {
    const { browser, app } = await sessionApp({ adapter: { name: 'cookie' } });
    const b = browser();
    const response = await b.get(`/api${ops(['set', 'blob', 'x'.repeat(5000)])}`);
    expect(response.status).toBe(500);
    expect(sessionCookies(response)).toEqual([]);
    const [recorded] = app.errors();
    expect((recorded.error as Error).name).toBe('SessionError');
    expect((recorded.error as { code: string }).code).toBe('SESSION_TOO_LARGE');
    expect((recorded.error as Error).message).toMatch(/\d+ bytes, over the 4096-byte limit.*chunk: true.*'memory' or 'redis'/);
  });

  it('fails past the chunking cap instead of sending cookies a server would refuse', async () => {
    const { browser, app } = await sessionApp({ adapter: { name: 'cookie', options: { chunk: true } } });
    const response = await browser().get(`/api${ops(['set', 'blob', 'x'.repeat(9000)])}`);
    expect(response.status).toBe(500);
    expect((app.errors()[0].error as Error).message).toMatch(/over the 7168-byte cap/);
  });

  it('accepts a cookie signed with a rotated-out secret and re-signs it in the same response, with no change', async () => {
    const before = await sessionApp({ adapter: { name: 'cookie' }, session: { secrets: [OLD] } });
    const b = before.browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    const oldCookie = b.cookies().__sid;

    const rotated = await sessionApp({ adapter: { name: 'cookie' }, session: { secrets: [NEW, OLD] } });
    const moved = rotated.browser();
    moved.setCookie('__sid', oldCookie);
    const response = await moved.get(`/page${ops(['get', 'a'])}`);
    expect(sessionCookies(response)).toHaveLength(1);
    expect(await results(response)).toEqual([1]);
    expect(moved.cookies().__sid).not.toBe(oldCookie);
    expect(sessionCookies(await moved.get(`/page${ops(['get', 'a'])}`))).toEqual([]);

    const after = await sessionApp({ adapter: { name: 'cookie' }, session: { secrets: [NEW] } });
    const check = after.browser();
    check.setCookie('__sid', moved.cookies().__sid);
    expect(await results(await check.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
    check.setCookie('__sid', oldCookie);
    expect(await results(await check.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
  });

  it('with cookie.expires, every session ends at that date, on the server too', async () => {
    const start = Math.floor(Date.now() / 1000) * 1000;
    const fixed = await sessionApp({ adapter: { name: 'cookie' }, cookie: { expires: new Date(start + 120_000) } });
    fixed.clock.time = start;
    const b = fixed.browser();
    const first = await b.get(`/page${ops(['set', 'a', 1])}`);
    expect(sessionCookies(first)[0]).toMatch(/Max-Age=120; Expires=/);
    fixed.clock.advance(119);
    expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
    fixed.clock.advance(1);
    expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
  });

  it('the Web Crypto signer writes the same wire format as the node:crypto one', async () => {
    const web = await sessionApp({ adapter: { name: 'cookie' } }, undefined, (services) =>
      services.register(Tokens.Signer, { useValue: new WebCryptoHmacSigner({ secrets: [SECRET] }) })
    );
    const b = web.browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    const node = await sessionApp({ adapter: { name: 'cookie' } });
    const other = node.browser();
    other.setCookie('__sid', b.cookies().__sid);
    expect(await results(await other.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
  });

  it('marks cookies Secure except on http://localhost, as SvelteKit does', async () => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie' } });
    const local = await browser('http://localhost').get(`/api${ops(['set', 'a', 1])}`);
    expect(sessionCookies(local)[0]).not.toMatch(/Secure/);
    const remote = await browser('https://example.com').get(`/api${ops(['set', 'a', 1])}`);
    expect(sessionCookies(remote)[0]).toMatch(/; Secure/);
    expect(sessionCookies(remote)[0]).toMatch(/; HttpOnly/);
    expect(sessionCookies(remote)[0]).toMatch(/; SameSite=Lax/);
    expect(sessionCookies(remote)[0]).toMatch(/; Path=\//);
  });

  it('a __Host- session cookie is sent Secure with Path=/ and no Domain, on http://localhost too, and reads back', async () => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie' }, session: { key: '__Host-sid' } });
    const b = browser('http://localhost');
    const written = await b.get(`/api${ops(['set', 'a', 1])}`);
    const [header] = sessionCookies(written, '__Host-sid');
    expect(header).toMatch(/; Secure/);
    expect(header).toMatch(/; Path=\/(;|$)/);
    expect(header).not.toMatch(/Domain=/i);
    expect(await results(await b.get(`/api${ops(['get', 'a'])}`))).toEqual([1]);
  });

  it('sends Max-Age of at most 400 days when cookie.expires lies further ahead', async () => {
    const { browser, clock } = await sessionApp({ adapter: { name: 'cookie' }, cookie: { expires: new Date(Date.now() + 800 * 86_400_000) } });
    const [header] = sessionCookies(await browser('https://example.com').get(`/api${ops(['set', 'a', 1])}`));
    expect(header).toMatch(/; Max-Age=34560000; /);
    expect(header).toContain(`Expires=${new Date(clock.now() + 34_560_000_000).toUTCString()}`);
  });

  it("SameSite=None is sent with Secure, on http://localhost too", async () => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie' }, cookie: { sameSite: 'none' } });
    const [header] = sessionCookies(await browser('http://localhost').get(`/api${ops(['set', 'a', 1])}`));
    expect(header).toMatch(/; SameSite=None/);
    expect(header).toMatch(/; Secure/);
  });
});
