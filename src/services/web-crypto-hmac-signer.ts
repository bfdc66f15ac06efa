import { inject, injectable } from 'tsyringe';
import { Tokens } from '../tokens.js';
import type { SignatureCheck, Signer } from '../types.js';
import { bytesToBase64url } from './base64url.js';
import { signatureBytes, type SignerConfig } from './hmac-signer.js';
import { VerifiedSignatures } from './verified-signatures.js';

const encoder = new TextEncoder();

/**
 * HMAC-SHA256 with Web Crypto (`crypto.subtle`), for runtimes without `node:crypto` such as
 * Cloudflare Workers. Same wire format as {@link HmacSigner}. Keys are imported once per secret;
 * `subtle.verify` compares in constant time. A signature it made or accepted under the current
 * secret is remembered with its data: the same cookie sent again is answered without a promise
 * ({@link VerifiedSignatures}).
 */
@injectable()
export class WebCryptoHmacSigner implements Signer {
  readonly #imports: Promise<CryptoKey[]>;
  /** The keys once imported: later requests need not wait on a promise for them. */
  #keys: CryptoKey[] | undefined;
  readonly #verified: VerifiedSignatures;

  constructor(@inject(Tokens.Config) config: SignerConfig) {
    this.#verified = new VerifiedSignatures(config.verifiedSignatures);
    this.#imports = Promise.all(
      config.secrets.map((secret) =>
        crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
      )
    );
    this.#imports.then((keys) => (this.#keys = keys)).catch(() => {});
  }

  async sign(data: string): Promise<string> {
    const keys = this.#keys ?? (await this.#imports);
    const signature = bytesToBase64url(new Uint8Array(await crypto.subtle.sign('HMAC', keys[0], encoder.encode(data))));
    this.#verified.remember(data, signature);
    return signature;
  }

  verify(data: string, signature: string): SignatureCheck | Promise<SignatureCheck> {
    return this.#verified.has(data, signature) ? 'valid' : this.#verifyHmac(data, signature);
  }

  async #verifyHmac(data: string, signature: string): Promise<SignatureCheck> {
    const given = signatureBytes(signature);
    if (!given) return 'invalid';
    const keys = this.#keys ?? (await this.#imports);
    const bytes = encoder.encode(data);
    for (let i = 0; i < keys.length; i++) {
      if (!(await crypto.subtle.verify('HMAC', keys[i], given as Uint8Array<ArrayBuffer>, bytes))) continue;
      if (i > 0) return 'rotated';
      this.#verified.remember(data, signature, true);
      return 'valid';
    }
    return 'invalid';
  }
}
