/**
 * The demo's "what the browser holds" panel, server side. Page JavaScript can read neither the
 * session's cookies (HttpOnly) nor the Set-Cookie headers of a response, so the server shows
 * them: each response's Set-Cookie lines for the session are kept in memory per browser (a
 * demo-only cookie tells browsers apart), and GET /inspect reads the cookies the browser sends and
 * decodes them. Nothing here is needed to use the library.
 */
import type { Cookies } from '@sveltejs/kit';
import type { CookieSeen, Inspection, ResponseRecord } from '../inspection';
import { COOKIE_LIMIT, COOKIE_NAME, type Strategy } from './session';

/** Tells browsers apart for the panel (not the session: it never changes). */
export const BROWSER_COOKIE = 'demo_browser';
/** The strategy the visitor switched to (see routes/strategy). */
export const STRATEGY_COOKIE = 'demo_strategy';

/**
 * Options for the demo's own cookies. `secure` follows the request's protocol: SvelteKit's
 * default would make them Secure on http://127.0.0.1, and WebKit drops a Secure cookie set over
 * plain http (localhost included).
 */
export function demoCookie(url: URL, maxAge?: number): Parameters<Cookies['set']>[2] {
  return { path: '/', httpOnly: true, sameSite: 'lax', secure: url.protocol === 'https:', maxAge };
}

const KEEP = 1000;
/** Per browser: its last response, and its last response that set the session's cookies. */
const responses = new Map<string, { last: ResponseRecord; lastWithCookie: ResponseRecord | null }>();

/** Is this Set-Cookie line for one of the session's cookies? */
export function isSessionLine(line: string): boolean {
  const name = line.slice(0, line.indexOf('='));
  return name === COOKIE_NAME || new RegExp(`^${COOKIE_NAME.replace(/\./g, '\\.')}\\.\\d{1,2}$`).test(name);
}

/** Keeps the last response of a browser (the last KEEP browsers). */
export function record(browser: string, entry: ResponseRecord): void {
  const before = responses.get(browser);
  responses.delete(browser);
  responses.set(browser, { last: entry, lastWithCookie: entry.setCookie.length ? entry : (before?.lastWithCookie ?? null) });
  if (responses.size > KEEP) responses.delete(responses.keys().next().value!);
}

const ENVELOPE = /^(1)\.([A-Za-z0-9_-]+)\.([0-9a-z]+)\.([0-9a-z]+)\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)$/;

function decodePayload(payload: string): unknown {
  if (!payload) return null;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return '(not JSON: changed, or encrypted)';
  }
}

/** What the browser holds for the session, read as `strategy` reads it. */
export async function inspect(cookies: Record<string, string | undefined>, strategy: Strategy, browser: string | undefined): Promise<Inspection> {
  const seen: CookieSeen[] = Object.entries(cookies)
    .filter(([name, value]) => value !== undefined && isSessionLine(`${name}=`))
    .map(([name, value]) => ({ name, value: value!, bytes: name.length + value!.length }))
    .sort((a, b) => (a.name === COOKIE_NAME ? -1 : b.name === COOKIE_NAME ? 1 : Number(a.name.split('.').pop()) - Number(b.name.split('.').pop())));
  const result: Inspection = {
    strategy: strategy.name,
    dataInCookie: strategy.dataInCookie,
    cookies: seen,
    totalBytes: seen.reduce((sum, c) => sum + c.bytes, 0),
    cookieLimit: COOKIE_LIMIT,
    maxSize: strategy.maxSize,
    envelope: null,
    problem: null,
    last: (browser && responses.get(browser)?.last) || null,
    lastWithCookie: (browser && responses.get(browser)?.lastWithCookie) || null
  };

  const main = cookies[COOKIE_NAME];
  if (!main) {
    result.problem = seen.length ? `chunks without ${COOKIE_NAME}` : 'no session cookie';
    return result;
  }
  let value = main;
  let chunks = 1;
  const marker = /^~(\d{1,2})~/.exec(main);
  if (marker) {
    chunks = Number(marker[1]);
    value = main.slice(marker[0].length);
    for (let i = 1; i < chunks; i++) {
      const piece = cookies[`${COOKIE_NAME}.${i}`];
      if (piece === undefined) {
        result.problem = `${COOKIE_NAME}.${i} is missing`;
        return result;
      }
      value += piece;
    }
  }
  const match = ENVELOPE.exec(value);
  if (!match) {
    result.problem = 'not an envelope (1.<id>.<created>.<expires>.<payload>.<signature>)';
    return result;
  }
  const [, version, id, created, expires, payload, signature] = match;
  // The library's own reader: null unless the shape is right and the HMAC matches.
  const decoded = await strategy.codec.read(cookies);
  const expiresAt = parseInt(expires, 36) * 1000;
  result.envelope = {
    chunks,
    version,
    id,
    created: parseInt(created, 36) * 1000,
    expires: expiresAt,
    expired: expiresAt <= Date.now(),
    payload,
    data: decodePayload(payload),
    signature,
    check: decoded === null ? 'invalid' : decoded.stale ? 'old secret' : 'valid'
  };
  if (decoded === null) {
    result.problem = marker && !strategy.maxSize
      ? `chunked, and the ${strategy.name} strategy does not chunk: it ignores this cookie`
      : 'the signature does not match: the server ignores this cookie and starts a fresh session';
  } else if (result.envelope.expired) {
    result.problem = 'expired: the server ignores it';
  }
  return result;
}

/** `value` with one character changed: in the payload if there is one, else in the signature. */
export function tamper(value: string): string {
  const body = value.replace(/^~\d{1,2}~/, '');
  const offset = value.length - body.length;
  const parts = body.split('.');
  let at: number;
  if (parts.length >= 5 && parts[4].length > 0) {
    at = offset + parts.slice(0, 4).join('.').length + 1 + Math.floor(parts[4].length / 2);
  } else {
    at = value.length - Math.min(10, value.length);
  }
  at = Math.min(at, value.length - 1);
  return value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1);
}
