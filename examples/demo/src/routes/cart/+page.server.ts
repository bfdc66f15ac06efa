import { fail } from '@sveltejs/kit';
import { MAX_SIZE } from '../../lib/server/session';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = ({ locals }) => {
  return { cart: locals.session.get('cart') ?? [] };
};

export const actions: Actions = {
  add: async ({ request, locals }) => {
    const form = await request.formData();
    const item = String(form.get('item') ?? '').trim();
    const qty = Math.max(1, Math.min(99, Number(form.get('qty') ?? 1) || 1));
    if (!item) return fail(400, { missing: true });
    await locals.session.set('cart', [...(locals.session.get('cart') ?? []), { item, qty }]);
  },
  // Fills the cart past what one 4 KB cookie holds: the cookie strategy then spreads the session
  // over numbered cookies (__sid, __sid.1, ...).
  many: async ({ locals }) => {
    const cart = locals.session.get('cart') ?? [];
    // The cookie strategy caps a session at 7 KB by default: past it a write fails with a
    // SessionError naming the limit. A server-side store (memory, redis) has no such cap.
    if (cart.length >= 60) return fail(400, { full: true, maxSize: MAX_SIZE });
    for (let i = 0; i < 60; i++) cart.push({ item: `Item ${cart.length + 1} with a long, descriptive name`, qty: 1 });
    await locals.session.set('cart', cart);
  },
  clear: async ({ locals }) => {
    await locals.session.unset('cart');
  }
};
