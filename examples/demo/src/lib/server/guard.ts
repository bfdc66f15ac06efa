import { redirect } from '@sveltejs/kit';
import type { SessionHandle } from '@svelte-dev/session';

/**
 * Runs inside handleSession, with locals.session there: /account is for signed-in users.
 * (SessionHandle is SvelteKit's Handle; SvelteKit 3 exports Handle from '@sveltejs/kit/hooks'.)
 */
export const guard: SessionHandle = async ({ event, resolve }) => {
  if (event.url.pathname.startsWith('/account') && !event.locals.session.has('user')) {
    redirect(303, `/login?next=${encodeURIComponent(event.url.pathname)}`);
  }
  return resolve(event);
};
