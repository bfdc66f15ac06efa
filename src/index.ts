// tsyringe needs the Reflect metadata API before any decorated class loads.
import 'reflect-metadata';

export { handleSession } from './handle.js';
export { SessionStorage } from './session.js';
export { Session } from './legacy-session.js';
export { SessionConfig } from './config.js';
export { createSessionContainer } from './container.js';
export { Tokens } from './tokens.js';
export { SessionError, SessionConfigError, SessionStoreError } from './errors.js';
export type { SessionErrorCode } from './errors.js';
export { BaseStrategy } from './strategies/base-strategy.js';
export { CookieSessionStrategy } from './strategies/cookie-session-strategy.js';
/** 1.1.3's name for {@link CookieSessionStrategy}. */
export { CookieSessionStrategy as CookieStrategy } from './strategies/cookie-session-strategy.js';
export { MemoryStrategy } from './strategies/memory-strategy.js';
export { CloudflareKVStrategy } from './strategies/cloudflare-kv-strategy.js';
export { RedisStrategy } from './strategies/redis-strategy.js';
export { createCustomStrategy } from './strategies/custom-strategy.js';
export { HmacSigner, type SignerConfig } from './services/hmac-signer.js';
export { WebCryptoHmacSigner } from './services/web-crypto-hmac-signer.js';
export { AesGcmCipher, type CipherConfig } from './services/aes-gcm-cipher.js';
export { WebCryptoAesGcmCipher } from './services/web-crypto-aes-gcm-cipher.js';
export { ChunkedCookieCodec } from './services/chunked-cookie-codec.js';
export { SystemClock } from './services/clock.js';
export { NanoidGenerator } from './services/id-generator.js';
// tsyringe's root container, so that an app can hand handleSession() a child of it (to replace a
// service) without importing tsyringe, which is our dependency, not the app's.
export { container } from 'tsyringe';
export type { DependencyContainer } from 'tsyringe';
export type {
  AdapterOptions,
  Cipher,
  CloudflareKVStrategyOptions,
  Constructable,
  CookieStrageOptions,
  Clock,
  CookieCodec,
  CookieOptions,
  CookieStrategyOptions,
  DecodedEnvelope,
  Envelope,
  FlashDataKey,
  FlashSessionData,
  HandleSessionOptions,
  IdGenerator,
  ImplementsOrExtends,
  KVNamespaceLike,
  MemoryStrategyOptions,
  OpenedText,
  OutgoingCookie,
  PerRequestStrategyClass,
  RedisClientLike,
  RedisStrategyOptions,
  SessionChanges,
  SessionData,
  SessionHandle,
  SessionOptions,
  SessionStorageOptions,
  SessionHook,
  SessionStorageStrategy,
  SessionToValidate,
  SignatureCheck,
  Signer,
  StrategyContext
} from './types.js';
