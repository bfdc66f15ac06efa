/**
 * A store key as it may appear in an error message or a log: the prefix and the first four
 * characters of the session id. A session id is a bearer secret for the server-side stores
 * (with a signature, anyone holding it is the session), and logs travel further than sessions.
 */
export function redactedKey(prefix: string, id: string): string {
  return `${prefix}${id.slice(0, 4)}…`;
}
