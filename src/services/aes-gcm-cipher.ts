import type { KeyObject } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from '../config.js';
import { Tokens } from '../tokens.js';
import type { Cipher, OpenedText } from '../types.js';
import { base64urlToBytes, bytesToBase64url } from './base64url.js';
import { nodeCrypto } from './node-crypto.js';

/**
 * The sealed format, shared by both ciphers:
 *
 *     base64url( 0x01 ‖ nonce (12 bytes) ‖ AES-256-GCM ciphertext ‖ tag (16 bytes) )
 *
 * The leading version byte makes every sealed value start with `A`, which a base64url JSON
 * object (`e…`) never does, so a reader tells the two formats apart without trying.
 */
export const SEALED_VERSION = 1;
/** What every sealed value starts with: the base64url of the version byte's top six bits. */
export const SEALED_PREFIX = 'A';
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** HKDF-SHA256 inputs: a key of its own for each secret, apart from the HMAC key. */
export const HKDF_SALT = '@svelte-dev/session';
export const HKDF_INFO = 'aes-256-gcm session cookie v1';

/** What a cipher is built from: the secrets, newest first, and the cookie name (authenticated data). */
export type CipherConfig = Pick<SessionConfig, 'secrets' | 'cookieName'>;

/** The nonce, ciphertext and tag of a sealed value, or `null` if it cannot be one. */
export function unpackSealed(sealed: string): { nonce: Uint8Array; body: Uint8Array } | null {
  if (!sealed.startsWith(SEALED_PREFIX)) return null;
  const bytes = base64urlToBytes(sealed);
  if (!bytes || bytes.length < 1 + NONCE_BYTES + TAG_BYTES || bytes[0] !== SEALED_VERSION) return null;
  return { nonce: bytes.subarray(1, 1 + NONCE_BYTES), body: bytes.subarray(1 + NONCE_BYTES) };
}

/** Version byte, nonce and body (ciphertext and tag) as one base64url string. */
export function packSealed(nonce: Uint8Array, ...body: Uint8Array[]): string {
  const length = body.reduce((sum, part) => sum + part.length, 1 + nonce.length);
  const out = new Uint8Array(length);
  out[0] = SEALED_VERSION;
  out.set(nonce, 1);
  let offset = 1 + nonce.length;
  for (const part of body) {
    out.set(part, offset);
    offset += part.length;
  }
  return bytesToBase64url(out);
}

/**
 * AES-256-GCM with `node:crypto`, for `encrypt: true`. Each secret gets its own 256-bit key by
 * HKDF-SHA256, derived on first use and kept. Every seal draws a fresh random 96-bit nonce from
 * the CSPRNG; the cookie name is authenticated data, so a sealed value opens only under its own
 * cookie. Opening tries the newest key first and reports a value sealed under an older one, which
 * is then sealed again under the newest.
 */
@injectable()
export class AesGcmCipher implements Cipher {
  readonly #crypto: NonNullable<ReturnType<typeof nodeCrypto>>;
  readonly #secrets: readonly string[];
  readonly #aad: Buffer;
  #keys: KeyObject[] | undefined;

  constructor(@inject(Tokens.Config) config: CipherConfig) {
    const crypto = nodeCrypto();
    if (!crypto) throw new Error('AesGcmCipher needs node:crypto; use WebCryptoAesGcmCipher on this runtime.');
    this.#crypto = crypto;
    this.#secrets = config.secrets;
    this.#aad = Buffer.from(config.cookieName, 'utf8');
  }

  /** One key per secret, derived once. */
  #derived(): KeyObject[] {
    const crypto = this.#crypto;
    return (this.#keys ??= this.#secrets.map((secret) =>
      crypto.createSecretKey(Buffer.from(crypto.hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32)))
    ));
  }

  async seal(text: string): Promise<string> {
    const nonce = this.#crypto.randomBytes(NONCE_BYTES);
    const cipher = this.#crypto.createCipheriv('aes-256-gcm', this.#derived()[0], nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#aad);
    const body = cipher.update(text, 'utf8');
    const last = cipher.final();
    return packSealed(nonce, body, last, cipher.getAuthTag());
  }

  /** Answers synchronously. */
  open(sealed: string): OpenedText | null {
    const parts = unpackSealed(sealed);
    if (!parts) return null;
    const { nonce, body } = parts;
    const tag = body.subarray(body.length - TAG_BYTES);
    const ciphertext = body.subarray(0, body.length - TAG_BYTES);
    const keys = this.#derived();
    for (let i = 0; i < keys.length; i++) {
      const decipher = this.#crypto.createDecipheriv('aes-256-gcm', keys[i], nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(this.#aad);
      decipher.setAuthTag(tag);
      const text = decipher.update(ciphertext);
      try {
        return { text: Buffer.concat([text, decipher.final()]).toString('utf8'), rotated: i > 0 };
      } catch {
        // Not this key (or tampered): the tag did not verify.
      }
    }
    return null;
  }
}
