/**
 * Dependency-injection tokens. A leaf module: it imports nothing of ours, so any module may import
 * it without forming a cycle. Register a replacement for any of these on the container you hand to
 * `handleSession({ container })`.
 */
export const Tokens = {
  /** The validated {@link SessionConfig} of one `handleSession()` call. */
  Config: Symbol.for('svelte-dev-session.Config'),
  /** {@link Signer}: HMAC-SHA256 signing and verification with secret rotation. */
  Signer: Symbol.for('svelte-dev-session.Signer'),
  /** {@link Cipher}: AES-256-GCM sealing of the cookie strategy's data (`encrypt: true`). */
  Cipher: Symbol.for('svelte-dev-session.Cipher'),
  /** {@link CookieCodec}: the signed envelope and its chunking. */
  CookieCodec: Symbol.for('svelte-dev-session.CookieCodec'),
  /** {@link Clock}: the current time in milliseconds. */
  Clock: Symbol.for('svelte-dev-session.Clock'),
  /** {@link IdGenerator}: session ids from a CSPRNG. */
  IdGenerator: Symbol.for('svelte-dev-session.IdGenerator'),
  /** The {@link SessionStorageStrategy} that keeps session data. */
  Strategy: Symbol.for('svelte-dev-session.Strategy'),
  /** The strategy's own options (`adapter.options`). */
  StrategyOptions: Symbol.for('svelte-dev-session.StrategyOptions')
} as const;
