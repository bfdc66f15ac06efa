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
  readonly #keys: Promise<CryptoKey>[];

  constructor(@inject(Tokens.Config) config: Pick<SessionConfig, 'secrets'>) {
    this.#keys = config.secrets.map((secret) =>
      crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
        'sign',
        'verify'
      ])
    );
  }

  async sign(data: string): Promise<string> {
    const signature = await crypto.subtle.sign('HMAC', await this.#keys[0], encoder.encode(data));
    return bytesToBase64url(new Uint8Array(signature));
  }

  async verify(data: string, signature: string): Promise<SignatureCheck> {
    const given = signatureBytes(signature);
    if (!given) return 'invalid';
    const bytes = encoder.encode(data);
    for (let i = 0; i < this.#keys.length; i++) {
      if (await crypto.subtle.verify('HMAC', await this.#keys[i], given as Uint8Array<ArrayBuffer>, bytes)) {
        return i === 0 ? 'valid' : 'rotated';
      }
    }
    return 'invalid';
  }
}
