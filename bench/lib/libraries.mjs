/**
 * The contenders. Each one gives, per scenario it can run, a SvelteKit `handle` (installed as the
 * bench app's delegate) and the route operations done with its own session API:
 *
 *   read(event)  -> { views }            read the counter, change nothing
 *   incr(event)  -> { views }            read the counter, write counter + 1
 *   seed(event)  -> { views }            write the ~3 KB blob and views = 0 (S5 set-up, not timed)
 *   check(event) -> { views, blob }      the state, for the correctness checks (not timed)
 *
 * Every handle is built once per (scenario, library), never per request, as an app would.
 * All cookie libraries are configured alike: Path=/, HttpOnly, SameSite=Lax, 7 days.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parse as parseCookies } from 'cookie';

const here = path.dirname(new URL(import.meta.url).pathname);
const benchDir = path.resolve(here, '..');
const repoDir = path.resolve(benchDir, '..');

/** Exactly 32 characters: svelte-kit-cookie-session requires that length, ours wants at least 32. */
export const SECRET = 'bench-secret-0123456789abcdefABC';
const WEEK = 60 * 60 * 24 * 7;

/** ~3 KB of JSON (S5): a cart of 45 lines, 3 KB as JSON, ~4 KB once base64url-encoded. */
export const BLOB = Array.from({ length: 45 }, (_, i) => ({
	sku: `SKU-${String(100000 + i * 7919).padStart(6, '0')}`,
	name: `Product number ${i} in the cart`,
	qty: (i % 5) + 1
}));

/** Packages whose `exports` only have a `svelte` condition (plain Node cannot resolve them). */
function svelteEntry(name) {
	return pathToFileURL(path.join(benchDir, 'node_modules', name, 'dist', 'index.js')).href;
}

export function versionOf(name) {
	// Read the file itself: some packages' `exports` do not expose ./package.json.
	return JSON.parse(readFileSync(path.join(benchDir, 'node_modules', name, 'package.json'), 'utf8')).version;
}

// ---------------------------------------------------------------------------------------------
// ours (the repo's built dist/) and @svelte-dev/session@1.1.3, the old package of our name
// (installed as old-svelte-dev-session): one public API, so one wiring for both
// ---------------------------------------------------------------------------------------------
function sameApi(id, label, kind, handleSession) {
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
		scenarios: {
			S1: cookie,
			S2: cookie,
			S3: cookie,
			S4: () => ({ handle: handleSession({ adapter: { name: 'memory' }, ...common }), ops }),
			S5: () => ({ handle: handleSession({ adapter: { name: 'cookie', options: { chunk: true } }, ...common }), ops })
		}
	};
}

async function ours() {
	const { handleSession } = await import(pathToFileURL(path.join(repoDir, 'dist', 'index.js')).href);
	return sameApi('ours', '@svelte-dev/session (this repo)', 'ours', handleSession);
}

async function old() {
	const { handleSession } = await import(svelteEntry('old-svelte-dev-session'));
	return sameApi('old', '@svelte-dev/session@1.1.3', 'peer', handleSession);
}

// ---------------------------------------------------------------------------------------------
// svelte-kit-cookie-session@4 (encrypted cookie; no server-side store)
// ---------------------------------------------------------------------------------------------
async function kitCookieSession() {
	const { handleSession } = await import('svelte-kit-cookie-session');
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
		unsupported: { S4: 'cookie-only library: no server-side store' }
	};
}

// ---------------------------------------------------------------------------------------------
// svelte-kit-sessions@0.4 (id in a signed cookie, data in a store: its MemoryStore)
// ---------------------------------------------------------------------------------------------
async function kitSessions() {
	const { sveltekitSessionHandle, MemoryStore } = await import(svelteEntry('svelte-kit-sessions'));
	const ops = {
		read: ({ locals }) => ({ views: locals.session.data.views ?? 0 }),
		incr: async ({ locals }) => {
			const views = (locals.session.data.views ?? 0) + 1;
			await locals.session.setData({ ...locals.session.data, views });
			await locals.session.save();
			return { views };
		},
		seed: async ({ locals }) => {
			await locals.session.setData({ blob: BLOB, views: 0 });
			await locals.session.save();
			return { views: 0 };
		},
		check: ({ locals }) => ({ views: locals.session.data.views ?? 0, blob: JSON.stringify(locals.session.data.blob ?? null).length })
	};
	const memory = () => ({
		handle: sveltekitSessionHandle({
			secret: SECRET,
			store: new MemoryStore(),
			cookie: { path: '/', httpOnly: true, sameSite: 'lax', maxAge: WEEK }
		}),
		ops
	});
	return {
		id: 'sks',
		label: 'svelte-kit-sessions (MemoryStore)',
		kind: 'peer',
		scenarios: { S1: memory, S4: memory },
		unsupported: {
			S2: 'store-only library (no data-in-cookie mode); see S4',
			S3: 'store-only library (no data-in-cookie mode); see S4',
			S5: 'store-only library (no data-in-cookie mode)'
		}
	};
}

// ---------------------------------------------------------------------------------------------
// react-router@7 session storages, wrapped in a Kit handle: the Cookie header in, getSession();
// a route that changed the session marks it, and the handle appends commitSession()'s Set-Cookie.
// ---------------------------------------------------------------------------------------------
async function reactRouter() {
	const { createCookieSessionStorage, createMemorySessionStorage } = await import('react-router');
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
		scenarios: { S1: cookieStorage, S2: cookieStorage, S3: cookieStorage, S4: memoryStorage, S5: cookieStorage }
	};
}

// ---------------------------------------------------------------------------------------------
// Floors
// ---------------------------------------------------------------------------------------------

/** No session library at all: Kit's pipeline alone (the hook calls resolve()). */
function none() {
	return {
		id: 'none',
		label: 'floor: SvelteKit, no session library',
		kind: 'floor-pipeline',
		scenarios: { S1: () => ({ handle: undefined, ops: {} }) }
	};
}

/**
 * The same cookie work done by hand: the Cookie header parsed once with `cookie` (as Kit and ours
 * do; Kit's own `event.cookies.get()` re-parses the header on every call), an envelope
 * `<expires36>.<base64url JSON>.<HMAC-SHA256 base64url>` over `name=<expires>.<payload>`,
 * node:crypto with the key prepared once, timingSafeEqual, the expiry checked, and one
 * Set-Cookie header appended when the route changed something.
 */
function handCrypto() {
	const NAME = '__hand';
	const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
	const attributes = `; Path=/; Max-Age=${WEEK}; HttpOnly; SameSite=Lax`;
	const handle = async ({ event, resolve }) => {
		const header = event.request.headers.get('cookie');
		const raw = header ? parseCookies(header)[NAME] : undefined;
		let data = {};
		if (raw) {
			const first = raw.indexOf('.');
			const last = raw.lastIndexOf('.');
			if (first > 0 && last > first) {
				const given = Buffer.from(raw.slice(last + 1), 'base64url');
				const expected = createHmac('sha256', key).update(`${NAME}=${raw.slice(0, last)}`).digest();
				if (given.length === 32 && timingSafeEqual(given, expected) && parseInt(raw.slice(0, first), 36) * 1000 > Date.now()) {
					data = JSON.parse(Buffer.from(raw.slice(first + 1, last), 'base64url').toString('utf8'));
				}
			}
		}
		const box = { data, dirty: false };
		event.locals.hand = box;
		const response = await resolve(event);
		if (box.dirty) {
			const signed = `${(Math.floor(Date.now() / 1000) + WEEK).toString(36)}.${Buffer.from(JSON.stringify(box.data)).toString('base64url')}`;
			const signature = createHmac('sha256', key).update(`${NAME}=${signed}`).digest('base64url');
			response.headers.append('set-cookie', `${NAME}=${signed}.${signature}${attributes}`);
		}
		return response;
	};
	const ops = {
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
	return {
		id: 'hand',
		label: 'floor: by hand, node:crypto HMAC',
		kind: 'floor-crypto',
		scenarios: { S2: () => ({ handle, ops }), S3: () => ({ handle, ops }) }
	};
}

export async function loadLibraries() {
	const libs = [none(), handCrypto()];
	const loaders = [
		['ours', ours],
		['old', old],
		['skcs', kitCookieSession],
		['sks', kitSessions],
		['rr', reactRouter]
	];
	const failed = [];
	for (const [id, load] of loaders) {
		try {
			libs.push(await load());
		} catch (error) {
			failed.push({ id, reason: `could not load: ${error?.message ?? error}` });
		}
	}
	return { libs, failed };
}
