import { inject, injectable } from 'tsyringe';
import type { SessionConfig } from '../config.js';
import { Tokens } from '../tokens.js';
import type { SignatureCheck, Signer } from '../types.js';
import { bytesToBase64url } from './base64url.js';
import { signatureBytes } from './hmac-signer.js';

const encoder = new TextEncoder();

/**
 * HMAC-SHA256 with Web Crypto (`crypto.subtle`), for runtimes without `node:crypto` such as
 * Cloudflare Workers. Same wire format as {@link HmacSigner}. Keys are imported once per secret;
 * `subtle.verify` compares in constant time.
 */
@injectable()
export class WebCryptoHmacSigner implements Signer {
  readonly #imports: Promise<CryptoKey[]>;
  /** The keys once imported: later requests need not wait on a promise for them. */
  #keys: CryptoKey[] | undefined;

  constructor(@inject(Tokens.Config) config: Pick<SessionConfig, 'secrets'>) {
    this.#imports = Promise.all(
      config.secrets.map((secret) =>
        crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
      )
    );
    this.#imports.then((keys) => (this.#keys = keys)).catch(() => {});
  }

  async sign(data: string): Promise<string> {
    const keys = this.#keys ?? (await this.#imports);
    const signature = await crypto.subtle.sign('HMAC', keys[0], encoder.encode(data));
    return bytesToBase64url(new Uint8Array(signature));
  }

  async verify(data: string, signature: string): Promise<SignatureCheck> {
    const given = signatureBytes(signature);
    if (!given) return 'invalid';
    const keys = this.#keys ?? (await this.#imports);
    const bytes = encoder.encode(data);
    for (let i = 0; i < keys.length; i++) {
      if (await crypto.subtle.verify('HMAC', keys[i], given as Uint8Array<ArrayBuffer>, bytes)) {
        return i === 0 ? 'valid' : 'rotated';
      }
    }
    return 'invalid';
  }
}
