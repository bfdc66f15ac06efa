import { randomUUID } from 'node:crypto';
import type { SessionHandle } from '@svelte-dev/session';
import { BROWSER_COOKIE, STRATEGY_COOKIE, demoCookie, isSessionLine, record } from './lib/server/inspect';
import { guard } from './lib/server/guard';
import { defaultStrategy, strategies, withoutSession, type StrategyName } from './lib/server/session';

/**
 * Baseline for bench/http.mjs: no session library (SESSION_ADAPTER=none). locals.session is a
 * plain object with the methods the routes use, over a Map that lives for this request only:
 * nothing is read from or written to a cookie, and the demo's panel and switch are off.
 */
const noSession: SessionHandle = ({ event, resolve }) => {
  const values = new Map<string, unknown>();
  const session = {
    get data() {
      return Object.fromEntries(values);
    },
    has: (key: string) => values.has(key),
    get: (key: string) => values.get(key),
    set: async (key: string, value: unknown) => void values.set(key, value),
    flash: async (key: string, value: unknown) => void values.set(key, value),
    unset: async (key: string) => void values.delete(key),
    destroy: async () => values.clear(),
    regenerate: async () => {}
  };
  // The library's SessionStorage is a class with private fields, which no plain object matches.
  event.locals.session = session as unknown as App.Locals['session'];
  return guard({ event, resolve });
};

/**
 * The demo around the library: picks the strategy of this visitor (the demo_strategy cookie, else
 * SESSION_ADAPTER) and hands the request to its handleSession(); then notes the session's
 * Set-Cookie lines of the response for the panel. In an app, `export const handle =
 * handleSession(options)` is all it takes.
 */
const demo: SessionHandle = async ({ event, resolve }) => {
  const strategy = strategies.get(event.cookies.get(STRATEGY_COOKIE) as StrategyName) ?? strategies.get(defaultStrategy)!;
  event.locals.strategy = strategy.name;
  // The panel's endpoint reads the cookies as they are; it needs no session.
  if (event.url.pathname === '/inspect') return resolve(event);

  let browser = event.cookies.get(BROWSER_COOKIE);
  if (!browser) {
    browser = randomUUID();
    event.cookies.set(BROWSER_COOKIE, browser, demoCookie(event.url));
  }
  const response = await strategy.handle({ event, resolve });
  record(browser, {
    method: event.request.method,
    path: event.url.pathname + event.url.search,
    data: event.isDataRequest,
    status: response.status,
    at: Date.now(),
    strategy: strategy.name,
    setCookie: response.headers.getSetCookie().filter(isSessionLine)
  });
  return response;
};

export const handle: SessionHandle = withoutSession ? noSession : demo;
