import { fail, redirect } from '@sveltejs/kit';
import { STRATEGY_COOKIE, demoCookie } from '../../lib/server/inspect';
import { strategyNames, type StrategyName } from '../../lib/server/session';
import type { Actions } from './$types';

export const actions: Actions = {
  /**
   * The demo's strategy switch. The strategies share the cookie name and the secret but not where
   * the data lives, so a session cannot move from one to another: switching ends the current one
   * with destroy() (a store's record is deleted, the cookies, chunks included, are expired), and
   * the next request starts an empty session in the new strategy.
   */
  default: async ({ request, locals, cookies, url }) => {
    const form = await request.formData();
    const to = String(form.get('strategy') ?? '') as StrategyName;
    if (!strategyNames.includes(to)) return fail(400, { strategy: to });
    if (to !== locals.strategy) {
      await locals.session.destroy();
      cookies.set(STRATEGY_COOKIE, to, demoCookie(url, 60 * 60 * 24 * 30));
    }
    const next = String(form.get('next') ?? '/');
    redirect(303, /^\/(?![/\\])/.test(next) ? next : '/');
  }
};
