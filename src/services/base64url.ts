/**
 * base64url (RFC 4648 §5, unpadded) of UTF-8 text and of bytes. Uses Node's Buffer when the
 * runtime has one (much faster) and btoa/atob otherwise (Workers without nodejs_compat).
 */

type BufferLike = {
  from(input: string | Uint8Array, encoding?: string): { toString(encoding: string): string } & Uint8Array;
};
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

const ALPHABET = /^[A-Za-z0-9_-]*$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** True if `text` uses only the base64url alphabet. */
export function isBase64url(text: string): boolean {
  return ALPHABET.test(text);
}

export function bytesToBase64url(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes).toString('base64url');
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url; `null` if `text` is not strict unpadded base64url. */
export function base64urlToBytes(text: string): Uint8Array | null {
  if (!ALPHABET.test(text) || text.length % 4 === 1) return null;
  if (NodeBuffer) return NodeBuffer.from(text, 'base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function textToBase64url(text: string): string {
  if (NodeBuffer) return NodeBuffer.from(text, 'utf8').toString('base64url');
  return bytesToBase64url(encoder.encode(text));
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
