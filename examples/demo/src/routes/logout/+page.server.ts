import { redirect } from '@sveltejs/kit';
import type { Actions } from './$types';

export const actions: Actions = {
  default: async ({ locals }) => {
    await locals.session.destroy();
    // A flash after destroy() starts a new, anonymous session that carries only the message.
    await locals.session.flash('message', 'You are signed out.');
    redirect(303, '/');
  }
};
