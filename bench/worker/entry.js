/**
 * The Worker that workers.mjs runs in workerd (Miniflare), without nodejs_compat: the Web Crypto
 * path, as on Cloudflare Workers. It holds the cookie contenders of S2 (a read with a valid
 * session cookie), wired as in Node (../lib/wiring.mjs), and drives them through the same
 * session layer (../lib/layer.mjs: Kit's get_cookies(), the handle, Kit's add_cookies_to_headers()).
 *
 *   GET /prime?lib=<id>        the correctness check (counter 1, then 2 with the returned cookie,
 *                              then read back as 2); answers { cookie } for the timed requests
 *   GET /run?lib=<id>&n=<N>    N timed reads, one after the other, with the cookie given in the
 *                              x-bench-cookie header; answers 'ok' only if every one answered 200
 *                              with counter 2
 *
 * workerd's clocks do not move while a script runs, so the time is taken outside, by workers.mjs.
 */
import { parse } from 'cookie';
import * as ours from '../../dist/index.js';
// After ours: dist/index.js loads reflect-metadata, which tsyringe needs first.
import { container } from 'tsyringe';
import * as old from '../node_modules/old-svelte-dev-session/dist/index.js';
import * as skcs from 'svelte-kit-cookie-session';
import * as rr from 'react-router';
import { Jar } from '../lib/jar.mjs';
import { answerBare, lastBody, respondLayer } from '../lib/layer.mjs';
import { handWebCrypto, kitCookieSession, reactRouter, sameApi, SECRET, withSigner } from '../lib/wiring.mjs';

const contenders = {
	ours: () => sameApi('ours', '@svelte-dev/session (this repo)', 'ours', ours.handleSession),
	// Ours with the verified-signature memory off: a Web Crypto verify on every read.
	'ours-nomem': () => {
		const lib = sameApi('ours-nomem', '@svelte-dev/session, verified-signature memory off', 'ours-variant', ours.handleSession);
		const scenario = withSigner(ours, container, lib, () => new ours.WebCryptoHmacSigner({ secrets: [SECRET], verifiedSignatures: 0 }));
		return { scenarios: { S2: scenario({ name: 'cookie' }) } };
	},
	old: () => sameApi('old', '@svelte-dev/session@1.1.3', 'peer', old.handleSession),
	skcs: () => kitCookieSession(skcs),
	rr: () => reactRouter(rr),
	'hand-wc': () => handWebCrypto(parse),
	none: () => ({ scenarios: { S2: () => ({ handle: undefined, ops: {} }) } })
};

// Built on first use, not at start-up: Workers refuse some crypto work in the global scope.
const entries = new Map();
function entryOf(id) {
	if (!entries.has(id)) entries.set(id, contenders[id]().scenarios.S2());
	return entries.get(id);
}

async function call(entry, jar, op) {
	const cookie = jar.header();
	const response = await respondLayer(new Request(`http://localhost/${op}`, cookie ? { headers: { cookie } } : {}), entry);
	jar.store(response);
	if (response.status !== 200) throw new Error(`/${op} answered ${response.status}`);
	return response.json();
}

async function prime(id) {
	const entry = entryOf(id);
	if (id === 'none') return { cookie: '' };
	const jar = new Jar();
	for (const expected of [1, 2]) {
		const { views } = await call(entry, jar, 'incr');
		if (views !== expected) throw new Error(`incr answered ${views}, expected ${expected}`);
	}
	const { views } = await call(entry, jar, 'read');
	if (views !== 2) throw new Error(`read answered ${views}, expected 2`);
	return { cookie: jar.header() };
}

/**
 * N reads, as in Node's layer (../lib/layer.mjs): a few Requests built first and used in turn, the
 * route answering without a body stream. An empty batch (n=0) builds the same Requests, so
 * subtracting it leaves the N reads.
 */
async function run(id, n, cookie) {
	const entry = entryOf(id);
	const op = id === 'none' ? 'none' : 'read';
	const init = cookie ? { headers: { cookie } } : {};
	const requests = Array.from({ length: 16 }, () => new Request(`http://localhost/${op}`, init));
	for (let i = 0; i < n; i++) {
		const response = await respondLayer(requests[i % 16], entry, answerBare);
		if (response.status !== 200) throw new Error(`${id}: status ${response.status}`);
	}
	if (n > 0 && op === 'read' && lastBody?.views !== 2) throw new Error(`${id}: the timed read did not see counter 2`);
	return 'ok';
}

export default {
	async fetch(request) {
		const url = new URL(request.url);
		const id = url.searchParams.get('lib') ?? '';
		try {
			if (!(id in contenders)) return new Response(`unknown lib ${id}`, { status: 404 });
			if (url.pathname === '/prime') return Response.json(await prime(id));
			if (url.pathname === '/run') return new Response(await run(id, Number(url.searchParams.get('n') ?? 0), request.headers.get('x-bench-cookie') ?? ''));
			return new Response('not found', { status: 404 });
		} catch (error) {
			return new Response(String(error?.stack ?? error), { status: 500 });
		}
	}
};
