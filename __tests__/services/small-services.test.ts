import { randomBytes } from 'node:crypto';
import {
  base64urlToBytes,
  base64urlToText,
  bytesToBase64url,
  decodeBase64url,
  encodeBase64url,
  textToBase64url
} from '../../src/services/base64url.js';
import { NanoidGenerator } from '../../src/services/id-generator.js';
import { SetCookieWriter } from '../../src/services/set-cookie.js';

describe('NanoidGenerator', () => {
  describe('generate()', () => {
    it('gives 24 characters of [A-Za-z0-9_-]: 144 bits, above the 128 required', () => {
      const id = new NanoidGenerator().generate();
      expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(24 * Math.log2(64)).toBeGreaterThanOrEqual(128);
    });

    it('does not repeat over 10,000 ids', () => {
      const ids = new NanoidGenerator();
      const seen = new Set(Array.from({ length: 10_000 }, () => ids.generate()));
      expect(seen.size).toBe(10_000);
    });
  });
});

describe('base64url', () => {
  it('round-trips UTF-8 text and bytes without padding', () => {
    const text = 'héllo ✓ 🎉 {"a":1}';
    const encoded = textToBase64url(text);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(base64urlToText(encoded)).toBe(text);
    const bytes = new Uint8Array([0, 255, 128, 7]);
    expect(base64urlToBytes(bytesToBase64url(bytes))).toEqual(new Uint8Array(bytes));
  });

  it.each([['+/=', 'standard-alphabet characters'], ['abcde', 'an impossible length'], ['%41', 'percent escapes']])(
    'refuses %j (%s)',
    (text) => {
      expect(base64urlToBytes(text)).toBeNull();
    }
  );

  it('without Buffer (Workers), encodes and decodes exactly as Buffer does, at every length', () => {
    for (let length = 0; length <= 70; length++) {
      const bytes = new Uint8Array(randomBytes(length));
      const text = Buffer.from(bytes).toString('base64url');
      expect(encodeBase64url(bytes)).toBe(text);
      expect(decodeBase64url(text)).toEqual(bytes);
    }
  });

  it.each([['+/=', 'standard-alphabet characters'], ['abcde', 'an impossible length'], ['%41', 'percent escapes'], ['AAé', 'a character past ASCII']])(
    'refuses %j (%s) without Buffer too',
    (text) => {
      expect(decodeBase64url(text)).toBeNull();
    }
  );

  it('refuses bytes that are not UTF-8', () => {
    expect(base64urlToText(bytesToBase64url(new Uint8Array([0xff, 0xfe, 0xc0])))).toBeNull();
  });
});

describe('SetCookieWriter', () => {
  const writer = new SetCookieWriter({ path: '/', httpOnly: true, sameSite: 'lax', secure: true, domain: 'example.com' });

  it('writes the attributes once serialized by the cookie package, plus Max-Age and Expires', () => {
    const header = writer.header({ name: '__sid', value: 'v', maxAge: 60, expires: new Date(Date.UTC(2026, 0, 1)) });
    expect(header).toBe('__sid=v; Max-Age=60; Expires=Thu, 01 Jan 2026 00:00:00 GMT; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax');
  });

  it('writes a browser-session cookie without Max-Age or Expires', () => {
    expect(writer.header({ name: '__sid', value: 'v' })).toBe('__sid=v; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax');
  });

  it('gives the same cookie as options for event.cookies.set(), leaving the value unencoded', () => {
    const options = writer.options({ name: '__sid', value: 'a~b', maxAge: 0, expires: new Date(0) });
    expect(options).toMatchObject({ path: '/', httpOnly: true, secure: true, sameSite: 'lax', domain: 'example.com', maxAge: 0 });
    expect(options.encode!('a~b%')).toBe('a~b%');
  });
});
