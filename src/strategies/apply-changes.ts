import type { SessionChanges } from '../types.js';

/** `record` with one request's changes applied (`undefined` removes a key); `record` itself is left alone. */
export function applyChanges<T extends Record<string, unknown>>(record: T, changes: SessionChanges): T {
  if (changes.size === 0) return record;
  const next: Record<string, unknown> = { ...record };
  for (const [key, value] of changes) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  return next as T;
}
