/**
 * The contenders, loaded in Node (their wiring is in ./wiring.mjs). Each one gives, per scenario
 * it can run, a SvelteKit `handle` (installed as the bench app's delegate, or driven by
 * ./layer.mjs) and the route operations done with its own session API.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse as parseCookies } from 'cookie';
import Redis from 'ioredis';
import { BLOB, handOps, kitCookieSession, reactRouter, sameApi, SECRET, WEEK, withSigner } from './wiring.mjs';

export { BLOB };

const here = path.dirname(new URL(import.meta.url).pathname);
const benchDir = path.resolve(here, '..');
const repoDir = path.resolve(benchDir, '..');

/** Packages whose `exports` only have a `svelte` condition (plain Node cannot resolve them). */
function svelteEntry(name) {
	return pathToFileURL(path.join(benchDir, 'node_modules', name, 'dist', 'index.js')).href;
}

export function versionOf(name) {
	// Read the file itself: some packages' `exports` do not expose ./package.json.
	return JSON.parse(readFileSync(path.join(benchDir, 'node_modules', name, 'package.json'), 'utf8')).version;
}

const oursEntry = pathToFileURL(path.join(repoDir, 'dist', 'index.js')).href;

/** The tsyringe copy dist/ resolves (the repo's), so its containers are the ones handleSession knows. */
const oursContainer = () => createRequire(path.join(repoDir, 'package.json'))('tsyringe').container;

async function ours(redisClient) {
	const { handleSession } = await import(oursEntry);
	const lib = sameApi('ours', '@svelte-dev/session (this repo)', 'ours', handleSession);
	if (redisClient) lib.scenarios.S6 = () => ({ handle: handleSession({ adapter: { name: 'redis', options: { client: redisClient } }, ...lib.common }), ops: lib.ops });
	return lib;
}

/**
 * Ours on the Web Crypto path, as on Workers without nodejs_compat: the signer picked there
 * (WebCryptoHmacSigner) handed in through a container, as a user would replace any service.
 */
async function oursWebCrypto() {
	const ours = await import(oursEntry);
	const lib = sameApi('ours-wc', '@svelte-dev/session, Web Crypto signer', 'ours-variant', ours.handleSession);
	const scenario = withSigner(ours, oursContainer(), lib, () => new ours.WebCryptoHmacSigner({ secrets: [SECRET] }));
	lib.scenarios = { S2: scenario({ name: 'cookie' }) };
	return lib;
}

/**
 * Ours with the verified-signature memory off (`verifiedSignatures: 0`): every request computes
 * its HMACs, as the hand-written floor does. Context for the rows where the same cookie is sent
 * again and again, which is what the memory saves.
 */
async function oursNoMemory() {
	const ours = await import(oursEntry);
	const lib = sameApi('ours-nomem', '@svelte-dev/session, verified-signature memory off', 'ours-variant', ours.handleSession);
	const scenario = withSigner(ours, oursContainer(), lib, () => new ours.HmacSigner({ secrets: [SECRET], verifiedSignatures: 0 }));
	lib.scenarios = { S2: scenario({ name: 'cookie' }), S3: scenario({ name: 'cookie' }), S4: scenario({ name: 'memory' }) };
	return lib;
}

async function old() {
	const { handleSession } = await import(svelteEntry('old-svelte-dev-session'));
	const lib = sameApi('old', '@svelte-dev/session@1.1.3', 'peer', handleSession);
	lib.unsupported = { S6: 'no Redis adapter (it has cookie, memory and cloudflare-kv)' };
	return lib;
}

// ---------------------------------------------------------------------------------------------
// svelte-kit-sessions@0.4 (id in a signed cookie, data in a store: its MemoryStore)
// ---------------------------------------------------------------------------------------------
async function kitSessions(redisClient) {
	const { sveltekitSessionHandle, MemoryStore } = await import(svelteEntry('svelte-kit-sessions'));
	const { default: RedisStore } = await import('svelte-kit-connect-redis');
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
	const withStore = (store) => ({
		handle: sveltekitSessionHandle({
			secret: SECRET,
			store,
			cookie: { path: '/', httpOnly: true, sameSite: 'lax', maxAge: WEEK }
		}),
		ops
	});
	const memory = () => withStore(new MemoryStore());
	const scenarios = { S1: memory, S4: memory };
	if (redisClient) scenarios.S6 = () => withStore(new RedisStore({ client: redisClient }));
	return {
		id: 'sks',
		label: 'svelte-kit-sessions (Memory/RedisStore)',
		kind: 'peer',
		scenarios,
		unsupported: {
			S2: 'store-only library (no data-in-cookie mode); see S4',
			S3: 'store-only library (no data-in-cookie mode); see S4',
			S5: 'store-only library (no data-in-cookie mode)'
		}
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
 * S1's context: a handle that only calls `resolve`, which is what SvelteKit runs when an app has no
 * `handle` of its own. What any session library's hook costs at least, before it does anything.
 */
function passThrough() {
	return {
		id: 'pass',
		label: 'floor: a handle that only calls resolve',
		kind: 'floor-handle',
		scenarios: { S1: () => ({ handle: ({ event, resolve }) => resolve(event), ops: {} }) }
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
	return {
		id: 'hand',
		label: 'floor: by hand, node:crypto HMAC',
		kind: 'floor-crypto',
		scenarios: { S2: () => ({ handle, ops: handOps }), S3: () => ({ handle, ops: handOps }) }
	};
}

/**
 * Every contender that loads; `redisUrl` (S6) gives ours and svelte-kit-sessions (with
 * svelte-kit-connect-redis) one ioredis client each. `close()` disconnects them.
 * ioredis is pinned to 5.x in package.json: svelte-kit-connect-redis picks its call style with
 * `client instanceof Redis` from its own ioredis 5 dependency, so the client must come from that copy.
 */
export async function loadLibraries({ redisUrl } = {}) {
	const clients = [];
	const client = () => {
		if (!redisUrl) return undefined;
		const made = new Redis(redisUrl);
		clients.push(made);
		return made;
	};
	const libs = [none(), passThrough(), handCrypto()];
	const loaders = [
		['ours', () => ours(client())],
		['ours-wc', oursWebCrypto],
		['ours-nomem', oursNoMemory],
		['old', old],
		['skcs', async () => kitCookieSession(await import('svelte-kit-cookie-session'))],
		['sks', () => kitSessions(client())],
		['rr', async () => reactRouter(await import('react-router'))]
	];
	const failed = [];
	for (const [id, load] of loaders) {
		try {
			libs.push(await load());
		} catch (error) {
			failed.push({ id, reason: `could not load: ${error?.message ?? error}` });
		}
	}
	return { libs, failed, close: async () => clients.forEach((c) => c.disconnect()) };
}
