/**
 * The two AES-256-GCM ciphers behind `encrypt: true`: node:crypto (AesGcmCipher) and Web Crypto
 * (WebCryptoAesGcmCipher). Same keys, same sealed format; each opens what the other sealed.
 */
import { createRequire } from 'node:module';
import { jest } from '@jest/globals';
import {
  AesGcmCipher,
  HKDF_INFO,
  HKDF_SALT,
  NONCE_BYTES,
  TAG_BYTES
} from '../../src/services/aes-gcm-cipher.js';
import { base64urlToBytes, textToBase64url } from '../../src/services/base64url.js';
import { WebCryptoAesGcmCipher } from '../../src/services/web-crypto-aes-gcm-cipher.js';
import type { Cipher } from '../../src/types.js';

const nodeCryptoModule = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');

const current = 'current-secret-0123456789abcdef-0123';
const older = 'older-secret-0123456789abcdef-012345';
const cookieName = '__sid';

type Make = (secrets: string[], name?: string) => Cipher;
const makers: Array<[string, Make]> = [
  ['AesGcmCipher', (secrets, name = cookieName) => new AesGcmCipher({ secrets, cookieName: name })],
  ['WebCryptoAesGcmCipher', (secrets, name = cookieName) => new WebCryptoAesGcmCipher({ secrets, cookieName: name })]
];

/** Opens with node:crypto directly, from the documented format: the reference the ciphers must meet. */
function referenceOpen(sealed: string, secret: string, aad = cookieName): string {
  const bytes = Buffer.from(base64urlToBytes(sealed)!);
  expect(bytes[0]).toBe(1);
  const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const key = Buffer.from(nodeCryptoModule.hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
  const decipher = nodeCryptoModule.createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}

const nonceOf = (sealed: string) => Buffer.from(base64urlToBytes(sealed)!.subarray(1, 1 + NONCE_BYTES)).toString('hex');

describe.each(makers)('%s', (_name, make) => {
  it('seals to version 1 ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag, under the HKDF key of the newest secret, with the cookie name as associated data', async () => {
    const text = JSON.stringify({ user: 'ada', note: 'naïve café ✓' });
    const sealed = await make([current, older]).seal(text);
    expect(sealed).toMatch(/^A[A-Za-z0-9_-]+$/);
    expect(base64urlToBytes(sealed)!.length).toBe(1 + NONCE_BYTES + Buffer.byteLength(text) + TAG_BYTES);
    expect(referenceOpen(sealed, current)).toBe(text);
    expect(() => referenceOpen(sealed, older)).toThrow();
    expect(() => referenceOpen(sealed, current, '__other')).toThrow();
  });

  it('opens what it sealed, and says it was sealed under the newest secret', async () => {
    const cipher = make([current]);
    const text = JSON.stringify({ n: 1, s: 'x'.repeat(3000), u: '日本語' });
    expect(await cipher.open(await cipher.seal(text))).toEqual({ text, rotated: false });
  });

  it('gives 1,000 concurrent seals of the same text 1,000 different nonces, and all of them open', async () => {
    const cipher = make([current]);
    const text = '{"cart":[1,2,3]}';
    const sealed = await Promise.all(Array.from({ length: 1000 }, () => cipher.seal(text)));
    expect(new Set(sealed.map(nonceOf)).size).toBe(1000);
    expect(new Set(sealed).size).toBe(1000);
    const opened = await Promise.all(sealed.map((s) => cipher.open(s)));
    expect(opened.every((o) => o?.text === text && o.rotated === false)).toBe(true);
  });

  it('opens a value sealed under an older secret and reports it rotated, so that it is sealed again', async () => {
    const old = await make([older]).seal('{"a":1}');
    expect(await make([current, older]).open(old)).toEqual({ text: '{"a":1}', rotated: true });
    expect(await make([current]).open(old)).toBeNull();
  });

  it('refuses a value sealed for another cookie name (the name is authenticated)', async () => {
    const other = await make([current], '__other').seal('{"a":1}');
    expect(await make([current]).open(other)).toBeNull();
  });

  it('refuses every single-bit change of a sealed value, in the version, nonce, ciphertext and tag', async () => {
    const cipher = make([current]);
    const bytes = base64urlToBytes(await cipher.seal('{"role":"user"}'))!;
    for (let i = 0; i < bytes.length; i++) {
      const flipped = new Uint8Array(bytes);
      flipped[i] ^= 1;
      expect(await cipher.open(Buffer.from(flipped).toString('base64url'))).toBeNull();
    }
  });

  it('answers null, without throwing, for what is not a sealed value', async () => {
    const cipher = make([current]);
    const sealed = await cipher.seal('{"a":1}');
    for (const input of ['', 'A', 'AAAA', textToBase64url('{"a":1}'), sealed.slice(0, 20), sealed.slice(0, -1), `${sealed}A`, 'A!!!', 'A'.repeat(60), `${sealed.slice(0, -4)}====`]) {
      expect(await cipher.open(input)).toBeNull();
    }
  });

  it('opens what the other implementation sealed, both ways', async () => {
    const [, other] = makers.find(([n]) => n !== _name)!;
    expect(await make([current]).open(await other([current]).seal('{"x":"y"}'))).toEqual({ text: '{"x":"y"}', rotated: false });
    expect(await other([current]).open(await make([current]).seal('{"x":"y"}'))).toEqual({ text: '{"x":"y"}', rotated: false });
  });
});

describe('key derivation is done once per secret and kept', () => {
  afterEach(() => jest.restoreAllMocks());

  it('AesGcmCipher derives each key with HKDF on first use only', async () => {
    const hkdf = jest.spyOn(nodeCryptoModule, 'hkdfSync');
    const cipher = new AesGcmCipher({ secrets: [current, older], cookieName });
    expect(hkdf).not.toHaveBeenCalled();
    for (let i = 0; i < 5; i++) await cipher.open(await cipher.seal('{}'));
    await cipher.open(await new AesGcmCipher({ secrets: [older], cookieName }).seal('{}'));
    expect(hkdf).toHaveBeenCalledTimes(3); // two for this cipher's secrets, one for the other cipher
  });

  it('WebCryptoAesGcmCipher derives each key with HKDF on first use only', async () => {
    const derive = jest.spyOn(crypto.subtle, 'deriveKey');
    const cipher = new WebCryptoAesGcmCipher({ secrets: [current, older], cookieName });
    expect(derive).not.toHaveBeenCalled();
    await Promise.all(Array.from({ length: 5 }, async () => cipher.open(await cipher.seal('{}'))));
    expect(derive).toHaveBeenCalledTimes(2);
    expect(derive.mock.calls.every(([params]) => (params as { name: string }).name === 'HKDF')).toBe(true);
  });
});
