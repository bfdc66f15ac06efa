/**
 * How each contender is wired, with nothing specific to Node: lib/libraries.mjs loads these in
 * Node, and the Workers bench (worker/entry.js) bundles them into a Worker. Each function takes the
 * library's exports and returns the contender: an id, a label, a kind ('ours', 'peer', 'floor-*')
 * and, per scenario it can run, a maker of `{ handle, ops }`:
 *
 *   handle                                a SvelteKit `handle`, built once per scenario as an app would
 *   read(event)  -> { views }            read the counter, change nothing
 *   incr(event)  -> { views }            read the counter, write counter + 1
 *   seed(event)  -> { views }            write the ~3 KB blob and views = 0 (S5 set-up, not timed)
 *   check(event) -> { views, blob }      the state, for the correctness checks (not timed)
 *
 * All cookie libraries are configured alike: Path=/, HttpOnly, SameSite=Lax, 7 days.
 */

/** Exactly 32 characters: svelte-kit-cookie-session requires that length, ours wants at least 32. */
export const SECRET = 'bench-secret-0123456789abcdefABC';
export const WEEK = 60 * 60 * 24 * 7;

/** ~3 KB of JSON (S5): a cart of 45 lines, 3 KB as JSON, ~4 KB once base64url-encoded. */
export const BLOB = Array.from({ length: 45 }, (_, i) => ({
	sku: `SKU-${String(100000 + i * 7919).padStart(6, '0')}`,
	name: `Product number ${i} in the cart`,
	qty: (i % 5) + 1
}));

// ---------------------------------------------------------------------------------------------
// ours (the repo's built dist/) and @svelte-dev/session@1.1.3, the old package of our name
// (installed as old-svelte-dev-session): one public API, so one wiring for both
// ---------------------------------------------------------------------------------------------
export function sameApi(id, label, kind, handleSession) {
	const common = {
		session: { key: '__sid', secrets: [SECRET] },
		// Kit 2's cookies.set() requires a path (the old package passes it through).
		cookie: { path: '/', httpOnly: true, sameSite: 'lax', maxAge: WEEK }
	};
	const ops = {
		read: ({ locals }) => ({ views: locals.session.get('views') ?? 0 }),
		incr: async ({ locals }) => {
			const views = (locals.session.get('views') ?? 0) + 1;
			await locals.session.set('views', views);
			return { views };
		},
		seed: async ({ locals }) => {
			await locals.session.set('blob', BLOB);
			await locals.session.set('views', 0);
			return { views: 0 };
		},
		check: ({ locals }) => ({ views: locals.session.get('views') ?? 0, blob: JSON.stringify(locals.session.get('blob') ?? null).length })
	};
	const cookie = () => ({ handle: handleSession({ adapter: { name: 'cookie' }, ...common }), ops });
	return {
		id,
		label,
		kind,
		common,
		ops,
		scenarios: {
			S1: cookie,
			S2: cookie,
			S3: cookie,
			S4: () => ({ handle: handleSession({ adapter: { name: 'memory' }, ...common }), ops }),
			S5: () => ({ handle: handleSession({ adapter: { name: 'cookie', options: { chunk: true } }, ...common }), ops })
		}
	};
}

/**
 * Scenarios of ours with another signer handed in through a child of `container` (the tsyringe
 * container ours' dist/ resolves), as a user would replace any service: `scenario(adapter)` gives
 * a scenario factory; the signer is built when the scenario is.
 * @param {{ handleSession: Function, Tokens: { Signer: unknown } }} ours  ours' exports
 * @param {ReturnType<typeof sameApi>} lib  ours' wiring, from sameApi()
 * @param {() => unknown} makeSigner
 */
export function withSigner(ours, container, lib, makeSigner) {
	return (adapter) => () => {
		const child = container.createChildContainer();
		child.register(ours.Tokens.Signer, { useValue: makeSigner() });
		return { handle: ours.handleSession({ adapter, ...lib.common, container: child }), ops: lib.ops };
	};
}

// ---------------------------------------------------------------------------------------------
// svelte-kit-cookie-session@4 (encrypted cookie; no server-side store)
// ---------------------------------------------------------------------------------------------
/** @param {{ handleSession: Function }} module the package's exports */
export function kitCookieSession({ handleSession }) {
	const common = { secret: SECRET, expires: 7, expires_in: 'days', cookie: { path: '/', httpOnly: true, sameSite: 'lax' } };
	const ops = {
		read: ({ locals }) => ({ views: locals.session.data.views ?? 0 }),
		// The README's way to change one value: update() merges into the current data.
		incr: async ({ locals }) => {
			const views = (locals.session.data.views ?? 0) + 1;
			await locals.session.update(() => ({ views }));
			return { views };
		},
		seed: async ({ locals }) => {
			await locals.session.set({ blob: BLOB, views: 0 });
			return { views: 0 };
		},
		check: ({ locals }) => ({ views: locals.session.data.views ?? 0, blob: JSON.stringify(locals.session.data.blob ?? null).length })
	};
	const cookie = () => ({ handle: handleSession({ ...common }), ops });
	return {
		id: 'skcs',
		label: 'svelte-kit-cookie-session',
		kind: 'peer',
		scenarios: {
			S1: cookie,
			S2: cookie,
			S3: cookie,
			S5: () => ({ handle: handleSession({ ...common, chunked: true }), ops })
		},
		unsupported: { S4: 'cookie-only library: no server-side store', S6: 'cookie-only library: no server-side store' }
	};
}

// ---------------------------------------------------------------------------------------------
// react-router@7 session storages, wrapped in a Kit handle: the Cookie header in, getSession();
// a route that changed the session marks it, and the handle appends commitSession()'s Set-Cookie.
// ---------------------------------------------------------------------------------------------
/** @param {{ createCookieSessionStorage: Function, createMemorySessionStorage: Function }} module react-router's exports */
export function reactRouter({ createCookieSessionStorage, createMemorySessionStorage }) {
	const cookie = { name: '__session', secrets: [SECRET], path: '/', httpOnly: true, sameSite: 'lax', maxAge: WEEK, secure: false };
	const wrap = (storage) => async ({ event, resolve }) => {
		const session = await storage.getSession(event.request.headers.get('cookie'));
		const box = { session, dirty: false };
		event.locals.rr = box;
		const response = await resolve(event);
		if (box.dirty) response.headers.append('set-cookie', await storage.commitSession(session));
		return response;
	};
	const ops = {
		read: ({ locals }) => ({ views: locals.rr.session.get('views') ?? 0 }),
		incr: ({ locals }) => {
			const views = (locals.rr.session.get('views') ?? 0) + 1;
			locals.rr.session.set('views', views);
			locals.rr.dirty = true;
			return { views };
		},
		seed: ({ locals }) => {
			locals.rr.session.set('blob', BLOB);
			locals.rr.session.set('views', 0);
			locals.rr.dirty = true;
			return { views: 0 };
		},
		check: ({ locals }) => ({ views: locals.rr.session.get('views') ?? 0, blob: JSON.stringify(locals.rr.session.get('blob') ?? null).length })
	};
	const cookieStorage = () => ({ handle: wrap(createCookieSessionStorage({ cookie })), ops });
	const memoryStorage = () => ({ handle: wrap(createMemorySessionStorage({ cookie })), ops });
	return {
		id: 'rr',
		label: 'react-router 7 (cookie; memory in S4)',
		kind: 'peer',
		scenarios: { S1: cookieStorage, S2: cookieStorage, S3: cookieStorage, S4: memoryStorage, S5: cookieStorage },
		unsupported: { S6: 'no Redis session storage of its own (createSessionStorage needs one written by the app)' }
	};
}


// ---------------------------------------------------------------------------------------------
// Floor on the Web Crypto path (workers.mjs): the cookie work by hand, as lib/libraries.mjs's
// node:crypto floor does it, with Web Crypto (the key imported once) and btoa/atob.
// ---------------------------------------------------------------------------------------------
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const toBase64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromBase64url = (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

/** @param {(header: string) => Record<string, string>} parseCookies the `cookie` package's parse */
export function handWebCrypto(parseCookies) {
	const NAME = '__hand';
	const key = crypto.subtle.importKey('raw', encoder.encode(SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
	const attributes = `; Path=/; Max-Age=${WEEK}; HttpOnly; SameSite=Lax`;
	const handle = async ({ event, resolve }) => {
		const header = event.request.headers.get('cookie');
		const raw = header ? parseCookies(header)[NAME] : undefined;
		let data = {};
		if (raw) {
			const first = raw.indexOf('.');
			const last = raw.lastIndexOf('.');
			if (first > 0 && last > first) {
				const valid = await crypto.subtle.verify('HMAC', await key, fromBase64url(raw.slice(last + 1)), encoder.encode(`${NAME}=${raw.slice(0, last)}`));
				if (valid && parseInt(raw.slice(0, first), 36) * 1000 > Date.now()) data = JSON.parse(decoder.decode(fromBase64url(raw.slice(first + 1, last))));
			}
		}
		const box = { data, dirty: false };
		event.locals.hand = box;
		const response = await resolve(event);
		if (box.dirty) {
			const signed = `${(Math.floor(Date.now() / 1000) + WEEK).toString(36)}.${toBase64url(encoder.encode(JSON.stringify(box.data)))}`;
			const signature = toBase64url(new Uint8Array(await crypto.subtle.sign('HMAC', await key, encoder.encode(`${NAME}=${signed}`))));
			response.headers.append('set-cookie', `${NAME}=${signed}.${signature}${attributes}`);
		}
		return response;
	};
	return { id: 'hand-wc', label: 'floor: by hand, Web Crypto HMAC', kind: 'floor-crypto', scenarios: { S2: () => ({ handle, ops: handOps }) } };
}

/** The route operations of the hand-written floors (their session is `locals.hand`). */
export const handOps = {
	read: ({ locals }) => ({ views: locals.hand.data.views ?? 0 }),
	incr: ({ locals }) => {
		const views = (locals.hand.data.views ?? 0) + 1;
		locals.hand.data.views = views;
		locals.hand.dirty = true;
		return { views };
	},
	seed: ({ locals }) => {
		locals.hand.data = { blob: BLOB, views: 0 };
		locals.hand.dirty = true;
		return { views: 0 };
	},
	check: ({ locals }) => ({ views: locals.hand.data.views ?? 0, blob: JSON.stringify(locals.hand.data.blob ?? null).length })
};
