import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';
import { SessionConfig } from './config.js';
import { AesGcmCipher } from './services/aes-gcm-cipher.js';
import { WebCryptoAesGcmCipher } from './services/web-crypto-aes-gcm-cipher.js';
import { ChunkedCookieCodec } from './services/chunked-cookie-codec.js';
import { SystemClock } from './services/clock.js';
import { HmacSigner } from './services/hmac-signer.js';
import { NanoidGenerator } from './services/id-generator.js';
import { nodeCrypto } from './services/node-crypto.js';
import { WebCryptoHmacSigner } from './services/web-crypto-hmac-signer.js';
import { SessionEngine } from './session-engine.js';
import type { BaseStrategy } from './strategies/base-strategy.js';
import { CookieSessionStrategy } from './strategies/cookie-session-strategy.js';
import { toBaseStrategy } from './strategies/custom-strategy.js';
import { CloudflareKVStrategy } from './strategies/cloudflare-kv-strategy.js';
import { MemoryStrategy } from './strategies/memory-strategy.js';
import { RedisStrategy } from './strategies/redis-strategy.js';
import { Tokens } from './tokens.js';
import type { HandleSessionOptions } from './types.js';

/** The built-in strategies, by adapter name. */
const STRATEGIES: Record<string, new (...args: any[]) => BaseStrategy<any, any>> = {
  cookie: CookieSessionStrategy,
  memory: MemoryStrategy,
  'cloudflare-kv': CloudflareKVStrategy,
  redis: RedisStrategy
};

/**
 * The only composition root. Each `handleSession()` call gets its own child container, so two
 * hooks never share a store, a signer or a clock. Every service is registered on that child (never
 * on the global container) unless the container the user handed in already provides it: that is
 * how tests and users replace the clock, the signer, the strategy or anything else.
 */
export function createSessionContainer(options: HandleSessionOptions = {}): DependencyContainer {
  const config = new SessionConfig(options);
  const child = (options.container ?? rootContainer).createChildContainer();
  child.register(Tokens.Config, { useValue: config });
  child.register(Tokens.StrategyOptions, { useValue: config.adapter.options ?? {} });

  // Each service is resolved once, here; nothing is resolved per request.
  const provide = (token: InjectionToken, implementation: new (...args: any[]) => unknown) => {
    if (!child.isRegistered(token, true)) child.register(token, { useValue: child.resolve(implementation) });
  };
  provide(Tokens.Clock, SystemClock);
  provide(Tokens.IdGenerator, NanoidGenerator);
  // One Signer token, two implementations with one wire format: node:crypto where the runtime has
  // it (several times faster), Web Crypto elsewhere (Workers without nodejs_compat).
  provide(Tokens.Signer, nodeCrypto() ? HmacSigner : WebCryptoHmacSigner);
  // The cipher derives its keys on first use: without `encrypt: true` it costs nothing.
  provide(Tokens.Cipher, nodeCrypto() ? AesGcmCipher : WebCryptoAesGcmCipher);
  provide(Tokens.CookieCodec, ChunkedCookieCodec);
  if (!child.isRegistered(Tokens.Strategy, true)) {
    const own = config.adapter.strategy;
    child.register(Tokens.Strategy, {
      useValue: own
        ? // A per-request class gets what 1.1.3 gave it: { cookie, session, ...adapter.options }.
          toBaseStrategy(own, { cookie: options.cookie ?? {}, session: options.session ?? {}, ...(config.adapter.options ?? {}) })
        : child.resolve<BaseStrategy<any, any>>(STRATEGIES[config.adapter.name ?? 'cookie'] ?? CookieSessionStrategy)
    });
  }
  child.register(SessionEngine, { useValue: child.resolve(SessionEngine) });
  return child;
}
