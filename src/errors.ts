/**
 * Errors raised by the session library. A leaf module: it imports nothing of ours.
 *
 * Bad client input (a forged, truncated or expired cookie) is never an error: it gives the request
 * a fresh, empty session. These classes are for configuration mistakes, programming mistakes and
 * infrastructure failures.
 */

/** Codes carried by every {@link SessionError}, stable across versions. */
export type SessionErrorCode =
  | 'SESSION_CONFIG'
  | 'SESSION_STORE_UNAVAILABLE'
  | 'SESSION_TOO_LARGE'
  | 'SESSION_UNSUPPORTED';

/** Base class of every error this library throws on purpose. */
export class SessionError extends Error {
  override readonly name: string = 'SessionError';
  readonly code: SessionErrorCode;

  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A wrong option given to `handleSession()`. Thrown when `handleSession()` is called; the one
 * exception is what only a request carries (a Workers KV binding in `event.platform.env`), which
 * is checked on the first request that needs it. The message names the option and the fix.
 */
export class SessionConfigError extends SessionError {
  override readonly name = 'SessionConfigError';

  constructor(message: string) {
    super('SESSION_CONFIG', message);
  }
}

/**
 * The session store failed or answered something unreadable. The request fails with HTTP 503
 * rather than pretending the session is empty (which would overwrite real data on the next write).
 * `cause` holds the store's own error.
 */
export class SessionStoreError extends SessionError {
  override readonly name = 'SessionStoreError';
  readonly status = 503;

  constructor(message: string, options?: { cause?: unknown }) {
    super('SESSION_STORE_UNAVAILABLE', message, options);
  }
}
