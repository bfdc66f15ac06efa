/**
 * The "session layer" driver: what a request costs between SvelteKit reading its cookies and
 * writing its Set-Cookie headers, without routing, page rendering or Kit's other per-request work.
 *
 * Per request it does what Kit's `respond()` does around a `handle`, with Kit's own code where
 * cookies are concerned:
 *   - `get_cookies(request, url)` from Kit's runtime (it parses the Cookie header and builds
 *     `event.cookies`);
 *   - a RequestEvent with the fields Kit gives a `+server.js` route;
 *   - the contender's `handle({ event, resolve })`, where `resolve` runs the route operation,
 *     answers `json(...)`, and adds the cookies set through `event.cookies` with Kit's own
 *     `add_cookies_to_headers()`, as Kit's resolve does after a route.
 *
 * The route answers `json(body)` when a caller reads the body (the correctness checks). When timed,
 * it answers a bodiless `Response` and keeps the body aside (`answerBare`): a JSON body is a
 * ReadableStream that costs undici 10-20 µs to build, the same for every contender and none of the
 * session's or the cookies' work. The timed loop builds its `Request`s before the clock starts
 * for the same reason (run.mjs, worker/entry.js).
 *
 * Kit's file is imported by relative path: it is not in Kit's `exports`, and this is the very code
 * the bench app's server build bundles (the same installed @sveltejs/kit). Nothing here is
 * Node-specific: the Workers bench (workers.mjs) bundles this module into a Worker.
 */
import { json } from '@sveltejs/kit';
import { add_cookies_to_headers, get_cookies } from '../node_modules/@sveltejs/kit/src/runtime/server/cookie.js';

const getClientAddress = () => '127.0.0.1';
const setHeaders = () => {};

/** The route's answer for the correctness checks: the body as JSON, as a `+server.js` would. */
export const answerJson = (body) => json(body);

/** The last body `answerBare` kept aside, so the route's work cannot be optimised away. */
export let lastBody;
/** The route's answer when timed: the same status and cookies, no body stream. */
export const answerBare = (body) => {
	lastBody = body;
	return new Response(null, { status: 200 });
};

/**
 * One request through the session layer.
 * @param {Request} request  `http://localhost/<op>`, with the Cookie header under test
 * @param {{ handle?: Function, ops: Record<string, Function> }} entry  the contender
 * @param {(body: unknown) => Response} answer  how the route answers: `answerJson` or `answerBare`
 */
export async function respondLayer(request, entry, answer = answerJson) {
	const url = new URL(request.url);
	const { cookies, new_cookies, set_trailing_slash } = get_cookies(request, url);
	set_trailing_slash('never');
	const op = url.pathname.slice(1);
	const event = {
		cookies,
		fetch,
		getClientAddress,
		locals: {},
		params: { op },
		platform: undefined,
		request,
		route: { id: '/[op]' },
		setHeaders,
		url,
		isDataRequest: false,
		isSubRequest: false,
		isRemoteRequest: false
	};
	const resolve = async (resolved) => {
		const body = op === 'none' ? { ok: true } : await entry.ops[op](resolved);
		const response = answer(body);
		add_cookies_to_headers(response.headers, new_cookies.values());
		return response;
	};
	return entry.handle ? entry.handle({ event, resolve }) : resolve(event);
}
