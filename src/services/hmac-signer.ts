import type { KeyObject } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from '../config.js';
import { Tokens } from '../tokens.js';
import type { SignatureCheck, Signer } from '../types.js';
import { base64urlToBytes } from './base64url.js';
import { nodeCrypto } from './node-crypto.js';
import { VerifiedSignatures } from './verified-signatures.js';

/**
 * What a signer is built from: the secrets, newest first, and how many verified signatures it
 * remembers (see {@link VerifiedSignatures}; default 1024, 0 turns it off).
 */
export type SignerConfig = Pick<SessionConfig, 'secrets'> & { verifiedSignatures?: number };

/** HMAC-SHA256 gives 32 bytes: 43 base64url characters. */
export const SIGNATURE_LENGTH = 43;

/**
 * 43 base64url characters, the last one canonical. Decoders ignore the last character's two
 * spare bits; accepting only the spelling with those bits zero gives one envelope exactly one
 * valid form.
 */
export const SIGNATURE_PATTERN = '[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]';
const SIGNATURE = new RegExp(`^${SIGNATURE_PATTERN}$`);

/** The 32 signature bytes, or `null` unless `signature` is a canonical HMAC-SHA256 in base64url. */
export function signatureBytes(signature: string): Uint8Array | null {
  return SIGNATURE.test(signature) ? base64urlToBytes(signature) : null;
}

/**
 * HMAC-SHA256 with `node:crypto`. Each secret becomes a `KeyObject` once, when the signer is
 * built, never per request. Signatures are compared with `timingSafeEqual`. A signature it made
 * or accepted under the current secret is remembered with its data, so the same cookie sent
 * again is not hashed again ({@link VerifiedSignatures}).
 */
@injectable()
export class HmacSigner implements Signer {
  readonly #crypto: NonNullable<ReturnType<typeof nodeCrypto>>;
  readonly #keys: KeyObject[];
  readonly #verified: VerifiedSignatures;

  constructor(@inject(Tokens.Config) config: SignerConfig) {
    const crypto = nodeCrypto();
    if (!crypto) throw new Error('HmacSigner needs node:crypto; use WebCryptoHmacSigner on this runtime.');
    this.#crypto = crypto;
    this.#keys = config.secrets.map((secret) => crypto.createSecretKey(Buffer.from(secret, 'utf8')));
    this.#verified = new VerifiedSignatures(config.verifiedSignatures);
  }

  async sign(data: string): Promise<string> {
    const signature = this.#crypto.createHmac('sha256', this.#keys[0]).update(data).digest('base64url');
    this.#verified.remember(data, signature);
    return signature;
  }

  /** Answers synchronously: a request reading its session needs no promise for it. */
  verify(data: string, signature: string): SignatureCheck {
    if (this.#verified.has(data, signature)) return 'valid';
    const given = signatureBytes(signature);
    if (!given) return 'invalid';
    for (let i = 0; i < this.#keys.length; i++) {
      const expected = this.#crypto.createHmac('sha256', this.#keys[i]).update(data).digest();
      if (!this.#crypto.timingSafeEqual(expected, given)) continue;
      if (i > 0) return 'rotated';
      this.#verified.remember(data, signature, true);
      return 'valid';
    }
    return 'invalid';
  }
}
