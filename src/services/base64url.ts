/**
 * base64url (RFC 4648 §5, unpadded) of UTF-8 text and of bytes. Uses Node's Buffer when the
 * runtime has one (much faster), and table-driven code otherwise (Workers without nodejs_compat).
 */

type BufferLike = {
  from(input: string | Uint8Array, encoding?: string): { toString(encoding: string): string } & Uint8Array;
};
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

const ALPHABET = /^[A-Za-z0-9_-]*$/;
const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The value of each ASCII character in the alphabet, -1 for the others. */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < CHARS.length; i++) VALUES[CHARS.charCodeAt(i)] = i;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** True if `text` uses only the base64url alphabet. */
export function isBase64url(text: string): boolean {
  return ALPHABET.test(text);
}

export function bytesToBase64url(bytes: Uint8Array): string {
  return NodeBuffer ? NodeBuffer.from(bytes).toString('base64url') : encodeBase64url(bytes);
}

/** Decodes base64url; `null` if `text` is not strict unpadded base64url. */
export function base64urlToBytes(text: string): Uint8Array | null {
  if (!NodeBuffer) return decodeBase64url(text);
  // Buffer skips characters outside the alphabet: check first.
  if (!ALPHABET.test(text) || text.length % 4 === 1) return null;
  return NodeBuffer.from(text, 'base64url');
}

export function textToBase64url(text: string): string {
  if (NodeBuffer) return NodeBuffer.from(text, 'utf8').toString('base64url');
  return encodeBase64url(encoder.encode(text));
}

/** Decodes base64url UTF-8 text; `null` for bad base64url or invalid UTF-8. */
export function base64urlToText(text: string): string | null {
  const bytes = base64urlToBytes(text);
  if (!bytes) return null;
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

/** base64url of `bytes` without Buffer (exported for tests, which compare it with Buffer's). */
export function encodeBase64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += CHARS[n >> 18] + CHARS[(n >> 12) & 63] + CHARS[(n >> 6) & 63] + CHARS[n & 63];
  }
  if (bytes.length - i === 1) {
    const n = bytes[i] << 16;
    out += CHARS[n >> 18] + CHARS[(n >> 12) & 63];
  } else if (bytes.length - i === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += CHARS[n >> 18] + CHARS[(n >> 12) & 63] + CHARS[(n >> 6) & 63];
  }
  return out;
}

/**
 * The bytes of strict unpadded base64url without Buffer; `null` for a character outside the
 * alphabet or an impossible length (exported for tests, which compare it with Buffer's).
 */
export function decodeBase64url(text: string): Uint8Array | null {
  const length = text.length;
  if (length % 4 === 1) return null;
  const out = new Uint8Array((length * 3) >> 2);
  const value = (i: number) => {
    const code = text.charCodeAt(i);
    return code < 128 ? VALUES[code] : -1;
  };
  let o = 0;
  let i = 0;
  for (; i + 3 < length; i += 4) {
    const a = value(i);
    const b = value(i + 1);
    const c = value(i + 2);
    const d = value(i + 3);
    if ((a | b | c | d) < 0) return null;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  if (length - i >= 2) {
    const a = value(i);
    const b = value(i + 1);
    const c = length - i === 3 ? value(i + 2) : 0;
    if ((a | b | c) < 0) return null;
    const n = (a << 18) | (b << 12) | (c << 6);
    out[o++] = n >> 16;
    if (length - i === 3) out[o++] = (n >> 8) & 255;
  }
  return out;
}
