import type { KeyObject } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from '../config.js';
import { Tokens } from '../tokens.js';
import type { SignatureCheck, Signer } from '../types.js';
import { base64urlToBytes, bytesToBase64url } from './base64url.js';
import { nodeCrypto } from './node-crypto.js';

/** HMAC-SHA256 gives 32 bytes: 43 base64url characters. */
export const SIGNATURE_LENGTH = 43;

/**
 * HMAC-SHA256 with `node:crypto`. Each secret becomes a `KeyObject` once, when the signer is
 * built, never per request. Signatures are compared with `timingSafeEqual`.
 */
@injectable()
export class HmacSigner implements Signer {
  readonly #crypto: NonNullable<ReturnType<typeof nodeCrypto>>;
  readonly #keys: KeyObject[];

  constructor(@inject(Tokens.Config) config: Pick<SessionConfig, 'secrets'>) {
    const crypto = nodeCrypto();
    if (!crypto) throw new Error('HmacSigner needs node:crypto; use WebCryptoHmacSigner on this runtime.');
    this.#crypto = crypto;
    this.#keys = config.secrets.map((secret) => crypto.createSecretKey(Buffer.from(secret, 'utf8')));
  }

  async sign(data: string): Promise<string> {
    return this.#crypto.createHmac('sha256', this.#keys[0]).update(data).digest('base64url');
  }

  async verify(data: string, signature: string): Promise<SignatureCheck> {
    if (signature.length !== SIGNATURE_LENGTH) return 'invalid';
    const given = base64urlToBytes(signature);
    // Decoders ignore the last character's two spare bits; accept only the canonical spelling,
    // so that one envelope has exactly one valid form.
    if (!given || given.length !== 32 || bytesToBase64url(given) !== signature) return 'invalid';
    for (let i = 0; i < this.#keys.length; i++) {
      const expected = this.#crypto.createHmac('sha256', this.#keys[i]).update(data).digest();
      if (this.#crypto.timingSafeEqual(expected, given)) return i === 0 ? 'valid' : 'rotated';
    }
    return 'invalid';
  }
}
