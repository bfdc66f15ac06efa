/**
 * JSON rules for session values: what `set()` accepts, and how records are parsed without letting
 * any input touch an object prototype.
 */

/**
 * The names that reach object prototypes, and the flash keys that name them (`data` shows a flash
 * value under its own name, so `__flash___proto____` would become `__proto__` there).
 */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype', '__flash___proto____', '__flash_constructor__', '__flash_prototype__']);

/** Keys no session key or stored key may be: they reach object prototypes, directly or as a flash value's name. */
export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN.has(key);
}

/**
 * A deep copy of `value` as JSON would keep it (Dates become strings through `toJSON`, `undefined`
 * object members are dropped). Throws a TypeError naming `key` for what JSON cannot keep:
 * functions, symbols, BigInt, non-finite numbers and cycles.
 */
export function toJsonValue(value: unknown, key: string): unknown {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return copy(value, key, key, new Set(), 0);
}

/**
 * The deepest nesting `set()` accepts. Deeper values are refused when they are set, with a
 * TypeError naming the key and this limit, rather than stored and then lost: a record that deep
 * can overflow the stack of whatever parses or serializes it next (JSON.parse in a smaller stack,
 * SvelteKit's devalue), and the whole session would read as bad input.
 */
export const MAX_DEPTH = 64;

function copy(value: unknown, key: string, path: string, seen: Set<object>, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) refuse(key, path, `the number ${value}`);
      return value;
    case 'undefined':
      return undefined;
    case 'object': {
      if (value === null) return null;
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return copy(toJSON.call(value, path), key, path, seen, depth);
      if (seen.has(value)) refuse(key, path, 'a circular reference');
      if (depth >= MAX_DEPTH) {
        throw new TypeError(`Session value "${key}" cannot be stored: it is nested more than ${MAX_DEPTH} levels deep (at ${path}). Flatten it, or keep such data in your own store and only its id in the session.`);
      }
      seen.add(value);
      let result: unknown;
      if (Array.isArray(value)) {
        result = value.map((item, i) => {
          const copied = copy(item, key, `${path}[${i}]`, seen, depth + 1);
          return copied === undefined ? null : copied;
        });
      } else {
        const out: Record<string, unknown> = {};
        for (const member of Object.keys(value)) {
          if (FORBIDDEN.has(member)) refuse(key, `${path}.${member}`, `the key "${member}"`);
          const copied = copy((value as Record<string, unknown>)[member], key, `${path}.${member}`, seen, depth + 1);
          if (copied !== undefined) out[member] = copied;
        }
        result = out;
      }
      seen.delete(value);
      return result;
    }
    default:
      // function, symbol, bigint
      refuse(key, path, `a ${typeof value}`);
  }
}

function refuse(key: string, path: string, what: string): never {
  const where = path === key ? '' : ` (at ${path})`;
  throw new TypeError(`Session value "${key}" cannot be stored: it contains ${what}${where}, which JSON cannot keep.`);
}

const dropForbidden = (key: string, value: unknown) => (FORBIDDEN.has(key) ? undefined : value);

/**
 * The same without recursion, for records nested deeper than 64 levels: an explicit stack (no
 * stack overflow, however deep) and a set of objects already seen (a store handing out objects
 * with cycles cannot loop it).
 */
function scrubDeep(root: object): void {
  const seen = new Set<object>();
  const stack: object[] = [root];
  while (stack.length > 0) {
    const value = stack.pop()!;
    if (seen.has(value)) continue;
    seen.add(value);
    for (const key of Object.keys(value)) {
      if (FORBIDDEN.has(key)) {
        delete (value as Record<string, unknown>)[key];
        continue;
      }
      const inner = (value as Record<string, unknown>)[key];
      if (inner !== null && typeof inner === 'object') stack.push(inner);
    }
  }
}

/**
 * Parses a stored record. Returns `null` unless the text is a JSON object. Keys that reach
 * prototypes are dropped at every depth, so no record can change an object prototype even when
 * user code later merges its values.
 */
export function parseRecord(text: string): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    // The reviver is slow; only pay for it when such a key could be present (also spelled with
    // JSON escapes, which JSON.parse decodes into the same key).
    parsed =
      text.includes('__proto__') ||
      text.includes('constructor') ||
      text.includes('prototype') ||
      text.includes('\\u')
        ? JSON.parse(text, dropForbidden)
        : JSON.parse(text);
  } catch {
    return null;
  }
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : null;
}

/**
 * A record returned by a store, with keys that reach prototypes removed at every depth (in place:
 * stores hand out fresh objects). `null` unless it is a plain object.
 */
export function sanitizeRecord(record: unknown): Record<string, unknown> | null {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return null;
  scrub(record, 0);
  return record as Record<string, unknown>;
}

/** Recursion for the usual shallow record; past 64 levels, {@link scrubDeep} takes over. */
function scrub(value: object, depth: number): void {
  if (depth > 64) return scrubDeep(value);
  for (const key of Object.keys(value)) {
    if (FORBIDDEN.has(key)) {
      delete (value as Record<string, unknown>)[key];
      continue;
    }
    const inner = (value as Record<string, unknown>)[key];
    if (inner !== null && typeof inner === 'object') scrub(inner, depth + 1);
  }
}

/**
 * Parses a record a server-side store returned. `where` names it for the error (with the id
 * redacted: see redactedKey). Unlike {@link parseRecord}, text that is not a JSON object throws: a store answering garbage is a store failure (HTTP 503), never an empty session
 * whose next write would overwrite the real one.
 */
export function parseStoredRecord(text: unknown, where: string): Record<string, unknown> {
  const record = typeof text === 'string' ? parseRecord(text) : null;
  if (record === null) {
    // What it holds is described, not quoted: a record may carry personal data, and this goes to logs.
    throw new TypeError(`${where} holds ${typeof text === 'string' ? `${text.length} characters` : typeof text} that are not a session record (a JSON object). Is another program writing under this key prefix?`);
  }
  return record;
}
