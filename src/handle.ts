import { error, isRedirect, type RequestEvent } from '@sveltejs/kit';
import { parse } from 'cookie';
import { createSessionContainer } from './container.js';
import { isProduction, warnOnce } from './config.js';
import { SessionStoreError } from './errors.js';
import type { PendingCookie, SetCookieWriter } from './services/set-cookie.js';
import { SessionStorage } from './session.js';
import { SessionEngine } from './session-engine.js';
import type { SessionHandle, SessionHook, HandleSessionOptions } from './types.js';

type Resolve = Parameters<SessionHandle>[0]['resolve'];

/**
 * The SvelteKit `handle` hook that gives every request `event.locals.session` (and
 * `event.locals.cookies`, the request's cookies parsed once).
 *
 * Options are checked now, not per request: a wrong one throws a `SessionConfigError` naming it.
 *
 * @param options see {@link HandleSessionOptions}; every field has a default.
 * @param handle an optional `Handle` that runs inside, with the session already there.
 * @returns the `Handle`, which also carries `destroyUserSessions(userId)` (see `session.userId`).
 * @throws SessionConfigError for a wrong option.
 * @example
 * ```ts
 * // src/hooks.server.ts
 * import { handleSession } from '@svelte-dev/session';
 * export const handle = handleSession({ session: { secrets: [SESSION_SECRET] } });
 * ```
 */
export function handleSession(options: HandleSessionOptions = {}, handle?: SessionHandle): SessionHook {
  const engine = createSessionContainer(options).resolve<SessionEngine>(SessionEngine);
  // Development only: a page that read the session and is marked for public caching gets a warning.
  const watchCaching = !isProduction();

  // Not an async function: a request whose session ends idle (untouched or only read) costs one
  // promise reaction after the route, no more, which is most of what an anonymous visit costs here.
  const sessionHandle: SessionHandle = ({ event, resolve }) => {
    const header = event.request.headers.get('cookie');
    const cookies: Record<string, string | undefined> = header ? parse(header) : {};
    (event.locals as { cookies?: Record<string, string | undefined> }).cookies = cookies;

    // A visitor without a session cookie, or with a cookie-strategy session on node:crypto, is
    // opened without a promise.
    let opened: SessionStorage | Promise<SessionStorage>;
    try {
      opened = engine.open(event, cookies);
    } catch (cause) {
      return Promise.reject(unavailable(cause));
    }
    if (opened instanceof SessionStorage) return respond(opened, event, resolve);
    return opened.then(
      (session) => respond(session, event, resolve),
      (cause) => Promise.reject(unavailable(cause))
    );
  };
  return Object.assign(sessionHandle, {
    destroyUserSessions: (user: string | number) => engine.destroyUserSessions(user)
  });

  /** Runs the route with the session in `locals`, then commits what the request changed. */
  function respond(session: SessionStorage, event: RequestEvent, resolve: Resolve): Promise<Response> {
    (event.locals as { session?: SessionStorage }).session = session;
    const onThrow = (thrown: unknown) => respondToThrow(thrown, session, engine.writer(event.url), event, resolve);
    let result: Response | Promise<Response>;
    try {
      result = handle ? handle({ event, resolve }) : resolve(event);
    } catch (thrown) {
      return onThrow(thrown);
    }
    return Promise.resolve(result).then(
      (response) => {
        if (!session.idle) return commit(session).then((pending) => withCookies(response, pending, engine.writer(event.url)));
        if (watchCaching && session.readValues) warnIfShared(response.headers, event.url.pathname);
        return response;
      },
      onThrow
    );
  }
}

async function commit(session: SessionStorage): Promise<PendingCookie[]> {
  try {
    return await session.commit();
  } catch (cause) {
    throw unavailable(cause);
  }
}

/**
 * A store failure becomes HTTP 503 (SvelteKit renders its error page for it) and the
 * SessionStoreError, with the store's error as `cause`, is logged. Other errors pass unchanged.
 */
function unavailable(cause: unknown): unknown {
  if (!(cause instanceof SessionStoreError)) return cause;
  console.error(cause);
  try {
    error(503, 'Session store unavailable');
  } catch (httpError) {
    Object.defineProperty(httpError, 'cause', { value: cause });
    return httpError;
  }
}

/**
 * Appends Set-Cookie headers, copying the response first when its headers are immutable (a
 * `fetch()` result), and keeps shared caches from storing it ({@link privateCaching}).
 */
function withCookies(response: Response, pending: PendingCookie[], writer: SetCookieWriter): Response {
  if (pending.length === 0) return response;
  const headers = pending.map((cookie) => writer.header(cookie));
  const add = (target: Response) => {
    for (const value of headers) target.headers.append('set-cookie', value);
    privateCaching(target.headers);
    return target;
  };
  try {
    return add(response);
  } catch {
    return add(new Response(response.body, response));
  }
}

/** Cache-Control directives that let a shared cache (a CDN, a proxy) store a response. */
const SHARED = /^\s*(public|s-maxage=.*)\s*$/i;
/** Directives that keep a response out of shared caches. */
const KEPT_OUT = /^\s*(private|no-store)\s*$/i;
/**
 * Caching headers only shared caches read (RFC 9213's CDN-Cache-Control, and Surrogate-Control of
 * Akamai, Fastly and others): they overrule Cache-Control there, so a `private` Cache-Control alone
 * does not keep a CDN from storing the response.
 */
const CDN_HEADERS = ['cdn-cache-control', 'surrogate-control'] as const;

/**
 * Development only: a response that showed a session's values (it read them and set no cookie)
 * while marked for shared caching would hand them to every visitor after the first.
 */
function warnIfShared(headers: Headers, pathname: string): void {
  const shared = ['cache-control', ...CDN_HEADERS].filter((name) => {
    const directives = headers.get(name)?.split(',');
    return (
      directives !== undefined &&
      !directives.some((d) => KEPT_OUT.test(d)) &&
      directives.some((d) => SHARED.test(d) || (name !== 'cache-control' && /max-age/i.test(d)))
    );
  });
  if (shared.length === 0) return;
  warnOnce(`${pathname} read the session and is marked for shared caching (${shared.map((name) => `${name}: ${headers.get(name)}`).join('; ')}): a CDN or proxy would show this visitor's session to the next ones. Send Cache-Control: private (and no CDN-Cache-Control/Surrogate-Control) on pages that read the session. This warning is not printed with NODE_ENV=production.`);
}

/**
 * A response that sets the session cookie belongs to one visitor: a shared cache that stored it
 * would hand that Set-Cookie, the session, to everyone after. So it is marked `private`:
 * `private, no-cache` when the app sent no Cache-Control; the app's own directives otherwise, with
 * `public` and `s-maxage` replaced by `private` (and a warning, once). `private` or `no-store`
 * already there is left alone.
 */
function privateCaching(headers: Headers): void {
  for (const name of CDN_HEADERS) {
    const value = headers.get(name);
    if (value === null || value.split(',').some((d) => /^\s*no-store\s*$/i.test(d))) continue;
    headers.set(name, 'no-store');
    warnOnce(`A response that sets the session cookie had \`${name}: ${value}\`; it was sent as \`${name}: no-store\`, so that no CDN hands this visitor's session to others. Do not let pages that write the session be cached publicly.`);
  }
  const given = headers.get('cache-control');
  if (given === null) {
    headers.set('cache-control', 'private, no-cache');
    return;
  }
  const directives = given.split(',');
  if (directives.some((d) => KEPT_OUT.test(d))) return;
  const kept = directives.filter((d) => !SHARED.test(d) && d.trim() !== '').map((d) => d.trim());
  const changed = ['private', ...kept].join(', ');
  headers.set('cache-control', changed);
  if (kept.length !== directives.length) {
    warnOnce(`A response that sets the session cookie had \`Cache-Control: ${given}\`; it was sent as \`${changed}\`, so that no shared cache hands this visitor's session to others. Do not let pages that write the session be cached publicly.`);
  }
}

/**
 * The inner handle threw. SvelteKit adds `event.cookies` to the response of a thrown `redirect()`,
 * but not to an error page, so:
 * - a redirect: set the session's cookies through `event.cookies`, then rethrow;
 * - anything else: have SvelteKit render the error (its error page, `handleError`) by handing
 *   `resolve` options whose getters throw it, inside SvelteKit's own try/catch, and add the cookies
 *   to that response. Where that cannot reach SvelteKit's resolve (a `sequence()` wrapper reads the
 *   options first), the error is rethrown as it was.
 */
async function respondToThrow(
  thrown: unknown,
  session: SessionStorage,
  writer: SetCookieWriter,
  event: RequestEvent,
  resolve: Resolve
): Promise<Response> {
  const pending = await commit(session);
  if (pending.length === 0) throw thrown;

  if (isRedirectLike(thrown)) {
    try {
      for (const cookie of pending) event.cookies.set(cookie.name, cookie.value, writer.options(cookie));
    } catch {
      // resolve() already ran, so SvelteKit no longer takes cookies: answer the redirect here.
      return withCookies(new Response(null, { status: thrown.status, headers: { location: thrown.location } }), pending, writer);
    }
    throw thrown;
  }

  let reached = false;
  const rethrow = (): never => {
    reached = true;
    throw thrown;
  };
  const options = {
    get transformPageChunk() {
      return rethrow();
    },
    get filterSerializedResponseHeaders() {
      return rethrow();
    },
    get preload() {
      return rethrow();
    }
  };
  let rendered: Response;
  try {
    rendered = await resolve(event, options);
  } catch {
    throw thrown;
  }
  if (!reached) throw thrown;
  return withCookies(rendered, pending, writer);
}

/**
 * A `redirect()` thrown by the app. SvelteKit's `isRedirect` is an `instanceof` check, which fails
 * when the app's SvelteKit and the one this package resolves are two copies (a package left
 * outside the server bundle): so the shape is checked too, as SvelteKit's Redirect has it.
 */
function isRedirectLike(thrown: unknown): thrown is { status: number; location: string } {
  if (isRedirect(thrown)) return true;
  if (thrown === null || typeof thrown !== 'object' || thrown instanceof Error) return false;
  const { status, location } = thrown as { status?: unknown; location?: unknown };
  return typeof status === 'number' && status >= 300 && status <= 308 && typeof location === 'string';
}
