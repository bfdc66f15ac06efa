import { jest } from '@jest/globals';
import { HmacSigner } from '../../src/services/hmac-signer.js';
import { nodeCrypto } from '../../src/services/node-crypto.js';
import { WebCryptoHmacSigner } from '../../src/services/web-crypto-hmac-signer.js';
import type { Signer } from '../../src/types.js';

const current = 'current-secret-0123456789abcdef-0123';
const older = 'older-secret-0123456789abcdef-012345';

describe.each([
  ['HmacSigner', (secrets: string[]) => new HmacSigner({ secrets })],
  ['WebCryptoHmacSigner', (secrets: string[]) => new WebCryptoHmacSigner({ secrets })]
] as const)('%s', (_name, make: (secrets: string[]) => Signer) => {
  describe('sign()', () => {
    it('gives a 43-character base64url HMAC-SHA256 equal to node:crypto\'s', async () => {
      const signature = await make([current]).sign('__sid=payload');
      const expected = nodeCrypto()!.createHmac('sha256', current).update('__sid=payload').digest('base64url');
      expect(signature).toBe(expected);
      expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('signs with the first secret', async () => {
      const both = await make([current, older]).sign('data');
      expect(both).toBe(await make([current]).sign('data'));
    });
  });

  describe('verify()', () => {
    it("accepts its own signature as 'valid'", async () => {
      const signer = make([current]);
      expect(await signer.verify('data', await signer.sign('data'))).toBe('valid');
    });

    it("accepts a cookie signed with a rotated-out secret and asks to re-sign it ('rotated')", async () => {
      const oldSignature = await make([older]).sign('data');
      expect(await make([current, older]).verify('data', oldSignature)).toBe('rotated');
    });

    it('refuses a signature made with an unknown secret', async () => {
      const foreign = await make(['someone-else-entirely-0123456789ab']).sign('data');
      expect(await make([current, older]).verify('data', foreign)).toBe('invalid');
    });

    it('refuses a non-canonical spelling of a valid signature (spare bits of the last character set)', async () => {
      const signer = make([current]);
      const good = await signer.sign('data');
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(good[42]);
      expect(last & 3).toBe(0);
      const twin = good.slice(0, 42) + alphabet[last | 1];
      expect(Buffer.from(twin, 'base64url')).toEqual(Buffer.from(good, 'base64url'));
      expect(await signer.verify('data', twin)).toBe('invalid');
    });

    it('refuses a signature over other data', async () => {
      const signer = make([current]);
      expect(await signer.verify('datb', await signer.sign('data'))).toBe('invalid');
    });

    it.each([
      ['empty', ''],
      ['too short', 'abc'],
      ['too long', 'A'.repeat(44)],
      ['outside the alphabet', '!'.repeat(43)],
      ['one character flipped', null]
    ])('refuses a signature that is %s', async (_case, given) => {
      const signer = make([current]);
      const good = await signer.sign('data');
      const signature = given ?? (good[0] === 'A' ? 'B' : 'A') + good.slice(1);
      expect(await signer.verify('data', signature)).toBe('invalid');
    });
  });
});

describe('answers', () => {
  it('HmacSigner.verify() answers at once, without a promise (a request reading its session needs none)', async () => {
    const signer = new HmacSigner({ secrets: [current] });
    const answer = signer.verify('data', await signer.sign('data'));
    expect(answer).toBe('valid');
  });
});

describe('key preparation', () => {
  it('HmacSigner prepares one KeyObject per secret when built, none per call', async () => {
    const crypto = nodeCrypto()!;
    const spy = jest.spyOn(crypto, 'createSecretKey');
    try {
      const signer = new HmacSigner({ secrets: [current, older] });
      expect(spy).toHaveBeenCalledTimes(2);
      for (let i = 0; i < 20; i++) await signer.verify('data', await signer.sign('data'));
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
  });

  it('WebCryptoHmacSigner imports one key per secret, none per call', async () => {
    const spy = jest.spyOn(crypto.subtle, 'importKey');
    try {
      const signer = new WebCryptoHmacSigner({ secrets: [current, older] });
      for (let i = 0; i < 20; i++) await signer.verify('data', await make2(signer));
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
    function make2(signer: Signer) {
      return signer.sign('data');
    }
  });
});
