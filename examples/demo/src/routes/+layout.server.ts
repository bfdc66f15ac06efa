import { defaultStrategy, strategyNames, withoutSession } from '../lib/server/session';
import type { LayoutServerLoad } from './$types';

// Hands the session to every page. Reading `data` also reads pending flash values, so a flash
// message is shown on this page and gone on the next.
export const load: LayoutServerLoad = ({ locals, url }) => {
  // Reading url.pathname makes SvelteKit run this load again on every client-side navigation,
  // so the session shown (and any flash message) is always the current one.
  void url.pathname;
  return {
    session: locals.session.data,
    // The demo's strategy switch (none with SESSION_ADAPTER=none, the no-library baseline).
    demo: { strategy: withoutSession ? null : locals.strategy, strategies: strategyNames, defaultStrategy }
  };
};
