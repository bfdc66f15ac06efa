import { inject, injectable } from 'tsyringe';
import { Tokens } from '../tokens.js';
import type { Cipher, OpenedText } from '../types.js';
import { HKDF_INFO, HKDF_SALT, NONCE_BYTES, TAG_BYTES, packSealed, unpackSealed, type CipherConfig } from './aes-gcm-cipher.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * AES-256-GCM with Web Crypto (`crypto.subtle`), for runtimes without `node:crypto` such as
 * Cloudflare Workers. Same keys (HKDF-SHA256 per secret, derived on first use and kept), same
 * sealed format and same authenticated data as {@link AesGcmCipher}: either opens what the other
 * sealed.
 */
@injectable()
export class WebCryptoAesGcmCipher implements Cipher {
  readonly #secrets: readonly string[];
  readonly #aad: Uint8Array<ArrayBuffer>;
  #keys: Promise<CryptoKey[]> | undefined;

  constructor(@inject(Tokens.Config) config: CipherConfig) {
    this.#secrets = config.secrets;
    this.#aad = encoder.encode(config.cookieName);
  }

  #derived(): Promise<CryptoKey[]> {
    return (this.#keys ??= Promise.all(
      this.#secrets.map(async (secret) => {
        const material = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey']);
        return crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(HKDF_SALT), info: encoder.encode(HKDF_INFO) },
          material,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt']
        );
      })
    ));
  }

  async seal(text: string): Promise<string> {
    const [key] = await this.#derived();
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const sealed = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: this.#aad, tagLength: TAG_BYTES * 8 },
      key,
      encoder.encode(text)
    );
    return packSealed(nonce, new Uint8Array(sealed));
  }

  async open(sealed: string): Promise<OpenedText | null> {
    const parts = unpackSealed(sealed);
    if (!parts) return null;
    const keys = await this.#derived();
    for (let i = 0; i < keys.length; i++) {
      try {
        const plain = await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: parts.nonce as Uint8Array<ArrayBuffer>, additionalData: this.#aad, tagLength: TAG_BYTES * 8 },
          keys[i],
          parts.body as Uint8Array<ArrayBuffer>
        );
        return { text: decoder.decode(plain), rotated: i > 0 };
      } catch {
        // Not this key (or tampered), or not UTF-8.
      }
    }
    return null;
  }
}
