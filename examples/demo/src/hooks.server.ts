import { redirect } from '@sveltejs/kit';
import { handleSession, type SessionHandle } from '@svelte-dev/session';
import { sessionOptions, withoutSession } from './lib/server/session';

/**
 * Runs inside handleSession, with locals.session there: /account is for signed-in users.
 * (SessionHandle is SvelteKit's Handle; SvelteKit 3 exports Handle from '@sveltejs/kit/hooks'.)
 */
const guard: SessionHandle = async ({ event, resolve }) => {
  if (event.url.pathname.startsWith('/account') && !event.locals.session.has('user')) {
    redirect(303, `/login?next=${encodeURIComponent(event.url.pathname)}`);
  }
  return resolve(event);
};

/**
 * Baseline for bench/http.mjs: no session library (SESSION_ADAPTER=none). locals.session is a
 * plain object with the methods the routes use, over a Map that lives for this request only:
 * nothing is read from or written to a cookie.
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

export const handle = withoutSession ? noSession : handleSession(sessionOptions, guard);
