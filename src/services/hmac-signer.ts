import type { KeyObject } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from '../config.js';
import { Tokens } from '../tokens.js';
import type { SignatureCheck, Signer } from '../types.js';
import { base64urlToBytes } from './base64url.js';
import { nodeCrypto } from './node-crypto.js';

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

  /** Answers synchronously: a request reading its session needs no promise for it. */
  verify(data: string, signature: string): SignatureCheck {
    const given = signatureBytes(signature);
    if (!given) return 'invalid';
    for (let i = 0; i < this.#keys.length; i++) {
      const expected = this.#crypto.createHmac('sha256', this.#keys[i]).update(data).digest();
      if (this.#crypto.timingSafeEqual(expected, given)) return i === 0 ? 'valid' : 'rotated';
    }
    return 'invalid';
  }
}
