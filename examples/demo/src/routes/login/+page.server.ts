import { fail, redirect } from '@sveltejs/kit';
import type { Actions } from './$types';

export const actions: Actions = {
  default: async ({ request, locals, url }) => {
    const name = String((await request.formData()).get('name') ?? '').trim();
    if (!name) return fail(400, { missing: true });
    // A new id at log-in: an id planted before cannot follow the user in.
    await locals.session.regenerate();
    await locals.session.set('user', { name, since: new Date().toISOString() });
    await locals.session.flash('message', `Welcome, ${name}!`);
    // Back to where the guard in hooks.server.ts sent the user from (same-site paths only).
    const next = url.searchParams.get('next');
    redirect(303, next && /^\/(?![/\\])/.test(next) ? next : '/');
  }
};
