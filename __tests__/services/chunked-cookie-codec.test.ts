import { ChunkedCookieCodec, COOKIE_LIMIT } from '../../src/services/chunked-cookie-codec.js';
import { HmacSigner } from '../../src/services/hmac-signer.js';
import { WebCryptoHmacSigner } from '../../src/services/web-crypto-hmac-signer.js';
import { SessionError } from '../../src/errors.js';
import type { Envelope, OutgoingCookie } from '../../src/types.js';

const secrets = ['codec-test-secret-0123456789abcdef-xyz'];
const signer = new HmacSigner({ secrets });
const codec = (options: { chunk?: boolean; maxSize?: number; cookieName?: string } = {}) =>
  new ChunkedCookieCodec(
    { cookieName: options.cookieName ?? '__sid', chunk: options.chunk ?? false, maxSize: options.maxSize ?? (options.chunk ? 7168 : COOKIE_LIMIT) },
    signer
  );
const envelope = (payload = 'eyJhIjoxfQ'): Envelope => ({
  id: 'AbCdEfGhIjKlMnOpQrStUvWx',
  created: Date.UTC(2026, 0, 1),
  expires: Date.UTC(2026, 0, 2),
  payload
});
const jar = (cookies: OutgoingCookie[]) => Object.fromEntries(cookies.map((c) => [c.name, c.value]));
/** base64url text of `n` characters, as the cookie strategy's payload would be. */
const payloadOf = (n: number) => 'x'.repeat(n);

describe('ChunkedCookieCodec', () => {
  describe('write() and read()', () => {
    it('round-trips the id, both times and the payload, and reports a current signature', async () => {
      const written = await codec().write(envelope());
      expect(written).toHaveLength(1);
      expect(written[0].value).toMatch(/^1\.AbCdEfGhIjKlMnOpQrStUvWx\.[0-9a-z]+\.[0-9a-z]+\.eyJhIjoxfQ\.[A-Za-z0-9_-]{43}$/);
      expect(await codec().read(jar(written))).toEqual({ ...envelope(), stale: false });
    });

    it('binds the signature to the cookie name: a value moved to another name is refused', async () => {
      const written = await codec().write(envelope());
      expect(await codec({ cookieName: 'other' }).read({ other: written[0].value })).toBeNull();
    });

    it('refuses a changed expiry, id or payload', async () => {
      const [{ value }] = await codec().write(envelope());
      const parts = value.split('.');
      for (const index of [1, 2, 3, 4]) {
        const changed = [...parts];
        changed[index] = index === 1 ? 'ZZZZEfGhIjKlMnOpQrStUvWx' : index === 4 ? 'eyJhIjoyfQ' : 'zzzzzz';
        expect(await codec().read({ __sid: changed.join('.') })).toBeNull();
      }
    });

    it('refuses an unknown envelope version, even when correctly signed', async () => {
      const signed = `2.AbCdEfGhIjKlMnOpQrStUvWx.a.b.`;
      const value = `${signed}.${await signer.sign(`__sid=${signed}`)}`;
      expect(await codec().read({ __sid: value })).toBeNull();
    });

    it('marks an envelope signed with an older secret as stale', async () => {
      const old = new ChunkedCookieCodec({ cookieName: '__sid', chunk: false, maxSize: COOKIE_LIMIT }, new HmacSigner({ secrets: ['an-old-secret-0123456789abcdef-012'] }));
      const rotated = new ChunkedCookieCodec({ cookieName: '__sid', chunk: false, maxSize: COOKIE_LIMIT }, new HmacSigner({ secrets: [secrets[0], 'an-old-secret-0123456789abcdef-012'] }));
      const written = await old.write(envelope());
      expect(await rotated.read(jar(written))).toMatchObject({ stale: true, id: envelope().id });
    });

    it('refuses an id outside [A-Za-z0-9_-] when writing, naming the rule', async () => {
      await expect(codec().write({ ...envelope(), id: 'a.b' })).rejects.toThrow(/1-128 characters of \[A-Za-z0-9_-\]/);
    });
  });

  it('read() answers at once with a synchronous signer, and with a promise of the same envelope with Web Crypto', async () => {
    const cookies = jar(await codec().write(envelope()));
    const now = codec().read(cookies);
    expect(now).toEqual(expect.objectContaining({ id: 'AbCdEfGhIjKlMnOpQrStUvWx', payload: 'eyJhIjoxfQ' }));
    const web = new ChunkedCookieCodec({ cookieName: '__sid', chunk: false, maxSize: COOKIE_LIMIT }, new WebCryptoHmacSigner({ secrets }));
    const later = web.read(cookies);
    expect(later).toBeInstanceOf(Promise);
    expect(await later).toEqual(now);
  });

  describe('size limits', () => {
    it('throws SESSION_TOO_LARGE past one cookie without chunking, naming size, limit and the way out', async () => {
      const error = await codec().write(envelope(payloadOf(4100))).catch((e) => e);
      expect(error).toBeInstanceOf(SessionError);
      expect(error.code).toBe('SESSION_TOO_LARGE');
      expect(error.message).toMatch(/would be \d+ bytes, over the 4096-byte limit/);
      expect(error.message).toMatch(/chunk: true/);
      expect(error.message).toMatch(/'memory' or 'redis'/);
    });

    it('keeps exactly 4096 bytes in one cookie and splits at 4097', async () => {
      const base = (await codec().write(envelope(''))).map((c) => c.name.length + c.value.length)[0];
      const fits = await codec({ chunk: true }).write(envelope(payloadOf(COOKIE_LIMIT - base)));
      expect(fits).toHaveLength(1);
      expect(fits[0].name.length + fits[0].value.length).toBe(COOKIE_LIMIT);
      const over = await codec({ chunk: true }).write(envelope(payloadOf(COOKIE_LIMIT - base + 1)));
      expect(over.map((c) => c.name)).toEqual(['__sid', '__sid.1']);
    });

    it('splits into numbered cookies, each within 4096 bytes, that read back whole', async () => {
      const written = await codec({ chunk: true }).write(envelope(payloadOf(6000)));
      expect(written.map((c) => c.name)).toEqual(['__sid', '__sid.1']);
      expect(written[0].value.startsWith('~2~1.')).toBe(true);
      for (const c of written) expect(c.name.length + c.value.length).toBeLessThanOrEqual(COOKIE_LIMIT);
      expect(await codec({ chunk: true }).read(jar(written))).toMatchObject({ payload: payloadOf(6000) });
    });

    it('refuses a chunked cookie with a missing or reordered chunk', async () => {
      const written = await codec({ chunk: true, maxSize: 15 * 1024 }).write(envelope(payloadOf(10_000)));
      expect(written).toHaveLength(3);
      const cookies = jar(written);
      expect(await codec({ chunk: true, maxSize: 15 * 1024 }).read({ ...cookies, '__sid.2': undefined })).toBeNull();
      expect(await 
        codec({ chunk: true, maxSize: 15 * 1024 }).read({ ...cookies, '__sid.1': cookies['__sid.2'], '__sid.2': cookies['__sid.1'] })
      ).toBeNull();
    });

    it('throws past the total cap, naming it', async () => {
      const error = await codec({ chunk: true }).write(envelope(payloadOf(8000))).catch((e) => e);
      expect(error.code).toBe('SESSION_TOO_LARGE');
      expect(error.message).toMatch(/over the 7168-byte cap/);
    });

    it('refuses a value longer than the cap, or of the wrong shape, without computing an HMAC', async () => {
      let verified = 0;
      const counting = { sign: signer.sign.bind(signer), verify: async (d: string, s: string) => (verified++, signer.verify(d, s)) };
      const guarded = new ChunkedCookieCodec({ cookieName: '__sid', chunk: false, maxSize: COOKIE_LIMIT }, counting);
      const [{ value }] = await codec().write(envelope());
      expect(await guarded.read({ __sid: value.slice(0, 40) + 'a'.repeat(5000) })).toBeNull();
      expect(await guarded.read({ __sid: 'not.an.envelope' })).toBeNull();
      expect(verified).toBe(0);
      expect(await guarded.read({ __sid: value })).not.toBeNull();
      expect(verified).toBe(1);
    });
  });

  describe('names()', () => {
    it('lists the main cookie and numbered chunks, nothing else', () => {
      expect(codec().names({ __sid: 'x', '__sid.1': 'y', '__sid.x': 'z', __sidx: 'w', other: 'v' })).toEqual(['__sid', '__sid.1']);
    });

    it('lists only the chunk names the cap could have produced, whatever names a client sends', async () => {
      const junk = Object.fromEntries(Array.from({ length: 110 }, (_, i) => [`__sid.${i}`, 'x']));
      expect(codec({ chunk: true }).names({ __sid: 'x', ...junk })).toEqual(['__sid', '__sid.1']);
      expect(codec().names({ __sid: 'x', ...junk })).toEqual(['__sid', '__sid.1']);
      // At the largest cap, every chunk a write can make is listed.
      const big = codec({ chunk: true, maxSize: 15360 });
      const written = await big.write(envelope(payloadOf(15360 - 200)));
      expect(written.length).toBeGreaterThanOrEqual(4);
      expect(big.names({ ...junk, __sid: 'x' })).toEqual(written.map((c) => c.name));
    });
  });
});
