import { json } from '@sveltejs/kit';
import { BROWSER_COOKIE, demoCookie, inspect, tamper } from '../../lib/server/inspect';
import { COOKIE_NAME, strategies } from '../../lib/server/session';
import type { RequestHandler } from './$types';

// The panel's view of the session cookies, read as the strategy serving this visitor reads them.
// (hooks.server.ts sets locals.strategy and skips handleSession for this path.)
function cookiesOf(all: Array<{ name: string; value: string }>): Record<string, string> {
  return Object.fromEntries(all.map((c) => [c.name, c.value]));
}

export const GET: RequestHandler = async ({ cookies, locals }) => {
  const strategy = strategies.get(locals.strategy);
  if (!strategy) return json({ strategy: 'none' });
  return json(await inspect(cookiesOf(cookies.getAll()), strategy, cookies.get(BROWSER_COOKIE)));
};

/**
 * "Tamper with it": changes one character of the browser's session cookie, as someone editing it
 * in the browser's dev tools would. The panel then shows the signature refused; the next page
 * gets a fresh session.
 */
export const POST: RequestHandler = async ({ cookies, locals, url }) => {
  const strategy = strategies.get(locals.strategy);
  const current = cookies.get(COOKIE_NAME);
  if (!strategy || !current) return json({ error: 'no session cookie to tamper with' }, { status: 400 });
  const changed = tamper(current);
  // The session's attributes (path, HttpOnly, SameSite, Secure only over https): the same cookie.
  cookies.set(COOKIE_NAME, changed, demoCookie(url, 60 * 60 * 24 * 7));
  const all = { ...cookiesOf(cookies.getAll()), [COOKIE_NAME]: changed };
  return json(await inspect(all, strategy, cookies.get(BROWSER_COOKIE)));
};
