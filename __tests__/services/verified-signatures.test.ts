import { jest } from '@jest/globals';
import { HmacSigner } from '../../src/services/hmac-signer.js';
import { nodeCrypto } from '../../src/services/node-crypto.js';
import { VerifiedSignatures } from '../../src/services/verified-signatures.js';
import { WebCryptoHmacSigner } from '../../src/services/web-crypto-hmac-signer.js';
import type { Signer } from '../../src/types.js';

const current = 'current-secret-0123456789abcdef-0123';
const older = 'older-secret-0123456789abcdef-012345';

describe('VerifiedSignatures', () => {
  it('answers only for the exact data a signature was remembered with', () => {
    const table = new VerifiedSignatures();
    table.remember('__sid=a', 'S1');
    expect(table.has('__sid=a', 'S1')).toBe(true);
    expect(table.has('__sid=b', 'S1')).toBe(false);
    expect(table.has('__sid=a', 'S2')).toBe(false);
  });

  it('keeps at most `size` entries, dropping the oldest first', () => {
    const table = new VerifiedSignatures(3);
    for (const n of [1, 2, 3, 4]) table.remember(`d${n}`, `s${n}`);
    expect(table.count).toBe(3);
    expect(table.has('d1', 's1')).toBe(false);
    expect(table.has('d4', 's4')).toBe(true);
    expect(table.has('d2', 's2')).toBe(true);
  });

  it('when full, drops signatures never sent back before those browsers returned: a flood of new sessions cannot push out returning ones', () => {
    const table = new VerifiedSignatures(4);
    table.remember('back1', 'b1', true); // verified from a request
    table.remember('made', 'm0');
    expect(table.has('made', 'm0')).toBe(true); // sent back: now a returning one
    for (let n = 1; n <= 1000; n++) table.remember(`new${n}`, `n${n}`); // cookieless requests, each a new session
    expect(table.count).toBe(4);
    expect(table.has('back1', 'b1')).toBe(true);
    expect(table.has('made', 'm0')).toBe(true);
    expect(table.has('new1000', 'n1000')).toBe(true);
    expect(table.has('new1', 'n1')).toBe(false);
    // With nothing but returned ones left, those go oldest first.
    for (const n of [1, 2, 3, 4, 5]) table.remember(`r${n}`, `r${n}`, true);
    expect(table.count).toBe(4);
    expect(table.has('back1', 'b1')).toBe(false);
    expect(table.has('r5', 'r5')).toBe(true);
  });

  it('does not remember data longer than a cookie chunk (4 KiB)', () => {
    const table = new VerifiedSignatures();
    table.remember('x'.repeat(4097), 'big');
    table.remember('x'.repeat(4096), 'fits');
    expect(table.has('x'.repeat(4097), 'big')).toBe(false);
    expect(table.has('x'.repeat(4096), 'fits')).toBe(true);
  });

  it('size 0 remembers nothing', () => {
    const table = new VerifiedSignatures(0);
    table.remember('d', 's');
    expect(table.has('d', 's')).toBe(false);
    expect(table.count).toBe(0);
  });

  it.each([-1, 1.5, Number.NaN, '10'])('refuses the size %p, naming what it takes', (size) => {
    expect(() => new VerifiedSignatures(size as number)).toThrow(/whole number >= 0 \(0 turns it off\)/);
  });
});

/** Counts the HMACs a signer computes, whichever crypto it uses. */
function countHmacs(kind: 'node' | 'web'): { count: () => number; restore: () => void } {
  const spy =
    kind === 'node'
      ? jest.spyOn(nodeCrypto()!, 'createHmac')
      : jest.spyOn(crypto.subtle, 'verify');
  return { count: () => spy.mock.calls.length, restore: () => spy.mockRestore() };
}

describe.each([
  ['HmacSigner', 'node', (secrets: string[], verifiedSignatures?: number) => new HmacSigner({ secrets, verifiedSignatures })],
  ['WebCryptoHmacSigner', 'web', (secrets: string[], verifiedSignatures?: number) => new WebCryptoHmacSigner({ secrets, verifiedSignatures })]
] as const)('%s remembers what it verified', (_name, kind, make: (secrets: string[], size?: number) => Signer) => {
  let hmacs: ReturnType<typeof countHmacs>;
  beforeEach(() => (hmacs = countHmacs(kind)));
  afterEach(() => hmacs.restore());

  it('a cookie it verified once is answered again without an HMAC, and at once (no promise)', async () => {
    const signer = make([current]);
    const signature = await make([current]).sign('__sid=payload');
    expect(await signer.verify('__sid=payload', signature)).toBe('valid');
    const before = hmacs.count();
    const again = signer.verify('__sid=payload', signature);
    expect(again).toBe('valid');
    expect(hmacs.count()).toBe(before);
  });

  it('a cookie it signed is answered without an HMAC when the browser sends it back', async () => {
    const signer = make([current]);
    const signature = await signer.sign('__sid=payload');
    const before = hmacs.count();
    expect(signer.verify('__sid=payload', signature)).toBe('valid');
    expect(hmacs.count()).toBe(before);
  });

  it('a remembered signature over other data is still checked, and refused', async () => {
    const signer = make([current]);
    const signature = await signer.sign('__sid=mine');
    const before = hmacs.count();
    expect(await signer.verify('__sid=theirs', signature)).toBe('invalid');
    expect(hmacs.count()).toBeGreaterThan(before);
  });

  it('refused signatures are not remembered: each attempt is checked again', async () => {
    const signer = make([current]);
    const foreign = await make(['someone-else-entirely-0123456789ab']).sign('__sid=payload');
    expect(await signer.verify('__sid=payload', foreign)).toBe('invalid');
    const before = hmacs.count();
    expect(await signer.verify('__sid=payload', foreign)).toBe('invalid');
    expect(hmacs.count()).toBeGreaterThan(before);
  });

  it("a cookie under a rotated-out secret is not remembered: it stays 'rotated' until re-signed", async () => {
    const signer = make([current, older]);
    const old = await make([older]).sign('__sid=payload');
    expect(await signer.verify('__sid=payload', old)).toBe('rotated');
    const before = hmacs.count();
    expect(await signer.verify('__sid=payload', old)).toBe('rotated');
    expect(hmacs.count()).toBeGreaterThan(before);
  });

  it('a signer with other secrets does not share the memory', async () => {
    const signature = await make([current]).sign('__sid=payload');
    expect(await make(['someone-else-entirely-0123456789ab']).verify('__sid=payload', signature)).toBe('invalid');
  });

  it('verifiedSignatures: 0 computes the HMAC on every verify', async () => {
    const signer = make([current], 0);
    const signature = await signer.sign('__sid=payload');
    const before = hmacs.count();
    expect(await signer.verify('__sid=payload', signature)).toBe('valid');
    expect(await signer.verify('__sid=payload', signature)).toBe('valid');
    expect(hmacs.count()).toBe(before + 2);
  });
});
