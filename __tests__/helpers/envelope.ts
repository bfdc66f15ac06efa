/** Reading and tampering with session cookie values the way the browser tests see them. */

/** `1.<id>.<created>.<expires>.<payload>.<sig>`, after the `~N~` chunk count if any. */
export function envelope(value: string) {
  const chunks = /^~(\d+)~/.exec(value);
  const parts = value.slice(chunks?.[0].length ?? 0).split('.');
  const [version, id, created, expires, payload, signature] = parts;
  return { chunks: chunks ? Number(chunks[1]) : 1, parts: parts.length, version, id, created, expires, payload, signature };
}

/** `value` with the character at `index` replaced by another base64url character. */
export function flip(value: string, index: number): string {
  return value.slice(0, index) + (value[index] === 'A' ? 'B' : 'A') + value.slice(index + 1);
}
