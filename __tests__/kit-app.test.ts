/**
 * Smoke test of the SvelteKit fixture pipeline, driven with a tiny hand-written handle
 * (deliberately NOT the library), plus executable notes on how Kit treats cookies, headers,
 * redirects and errors around a `handle` hook.
 */
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { error as kitError, redirect as kitRedirect, type Handle, type RequestEvent } from '@sveltejs/kit';
import {
	Browser,
	decodeActionJson,
	decodeDataJson,
	loadKitApp,
	ops,
	opsField,
	parseSetCookie,
	results,
	setCookies,
	type KitApp
} from './helpers/kit-app.js';

/**
 * A minimal in-memory session: enough of the API for the fixture's ops. Cookie `sid`
 * holds the id; flashes are removed once read on a later request.
 */
function memorySessionHandle(): Handle & { store: Map<string, Record<string, unknown>> } {
	const store = new Map<string, Record<string, unknown>>();

	const handle = (async ({ event, resolve }) => {
		let id = event.cookies.get('sid');
		let data: Record<string, unknown> = (id && store.get(id)) ? { ...store.get(id) } : {};
		if (id && !store.has(id)) id = undefined;
		const flashes = new Set<string>(((data.__flash as string[] | undefined) ?? []));
		const consumed = new Set<string>();

		const persist = () => {
			if (!id) {
				id = randomUUID();
				event.cookies.set('sid', id, { path: '/' });
			}
			store.set(id, { ...data, __flash: [...flashes].filter((k) => !consumed.has(k)) });
		};

		const session = {
			get id() {
				return id;
			},
			get data() {
				const { __flash, ...rest } = data;
				void __flash;
				return rest;
			},
			get(key: string) {
				if (flashes.has(key)) consumed.add(key);
				return data[key];
			},
			has(key: string) {
				return key in data;
			},
			async set(key: string, value: unknown) {
				data[key] = value;
				persist();
			},
			async flash(key: string, value: unknown) {
				data[key] = value;
				flashes.add(key);
				persist();
			},
			async unset(key: string) {
				delete data[key];
				persist();
			},
			async destroy() {
				if (id) store.delete(id);
				id = undefined;
				data = {};
				event.cookies.delete('sid', { path: '/' });
			},
			async regenerate() {
				if (id) store.delete(id);
				id = undefined;
				persist();
			},
			async save() {
				persist();
			}
		};

		(event.locals as unknown as Record<string, unknown>).session = session;
		const response = await resolve(event);
		if (consumed.size && id) {
			for (const key of consumed) {
				delete data[key];
				flashes.delete(key);
			}
			store.set(id, { ...data, __flash: [...flashes] });
		}
		return response;
	}) as Handle & { store: Map<string, Record<string, unknown>> };
	handle.store = store;
	return handle;
}

let app: KitApp;

beforeAll(async () => {
	app = await loadKitApp();
});

beforeEach(() => {
	app.useHandle(memorySessionHandle());
	app.clearErrors();
});

afterAll(() => {
	app.useHandle(undefined);
});

describe('fixture pipeline', () => {
	test('the fixture falls back to plain resolve() when no handle is installed', async () => {
		app.useHandle(undefined);
		const res = await new Browser(app).get('/page' + ops(['get', 'a']));
		expect(res.status).toBe(200);
		// locals.session is missing, so the op reports an error instead of a value.
		expect(await results(res)).toEqual([{ error: 'TypeError', message: 'event.locals.session is not set' }]);
	});

	test('/page runs ops from the URL and renders them; the cookie round-trips', async () => {
		const browser = new Browser(app);
		const first = await browser.get('/page' + ops(['set', 'a', 1], ['incr', 'n'], ['get', 'a'], ['has', 'b']));
		expect(first.status).toBe(200);
		expect(first.headers.get('content-type')).toContain('text/html');
		expect(await results(first)).toEqual([null, 1, 1, false]);
		expect(Object.keys(browser.cookies())).toEqual(['sid']);
		expect(browser.cookie('sid')).toMatchObject({ path: '/', httpOnly: true, sameSite: 'Lax', secure: false });

		const second = await browser.get('/page' + ops(['incr', 'n'], ['data'], ['id']));
		expect(await results(second)).toEqual([2, { a: 1, n: 2 }, browser.cookies().sid]);
		// No new cookie was needed the second time.
		expect(second.headers.getSetCookie()).toEqual([]);
	});

	test('values with HTML-special characters survive the <pre> round trip', async () => {
		const value = `<b>"tom" & 'jerry'</b>`;
		const res = await new Browser(app).get('/page' + ops(['set', 's', value], ['get', 's']));
		expect(await results(res)).toEqual([null, value]);
	});

	test('/page/__data.json is devalue-encoded and decodes to the same results', async () => {
		const browser = new Browser(app);
		const res = await browser.get('/page/__data.json' + ops(['set', 'when', 'now'], ['get', 'when'], ['get', 'nope']));
		expect(res.status).toBe(200);
		expect(await results(res)).toEqual([null, 'now', null]);
		expect(browser.cookies().sid).toBeDefined();

		const raw = await decodeDataJson(await (await browser.get('/page/__data.json' + ops(['data']))).text());
		expect(raw.type).toBe('data');
	});

	test('/parallel runs the layout and page loads with the same ops', async () => {
		const browser = new Browser(app);
		const res = await browser.get('/parallel' + ops(['get', 'x']));
		const html = await res.text();
		const again = () => new Response(html, { headers: { 'content-type': 'text/html' } });
		expect(await results(again(), { key: 'layoutResults' })).toEqual([null]);
		expect(await results(again(), { key: 'pageResults' })).toEqual([null]);

		const data = await browser.get('/parallel/__data.json' + ops(['get', 'x']));
		const decoded = await decodeDataJson(await data.text());
		expect(decoded.type).toBe('data');
		if (decoded.type === 'data') {
			const withData = decoded.nodes.filter((n) => n?.type === 'data').map((n) => (n as { data: object }).data);
			expect(withData).toEqual([{ layoutResults: [null] }, { pageResults: [null] }]);
		}
	});

	test('/parallel: the layout and page loads really do interleave on one session', async () => {
		const log: string[] = [];
		app.useHandle(async ({ event, resolve }) => {
			let calls = 0;
			(event.locals as unknown as Record<string, unknown>).session = {
				async save() {
					const n = ++calls;
					log.push(`start ${n}`);
					await new Promise((r) => setTimeout(r, 5));
					log.push(`end ${n}`);
				}
			};
			return resolve(event);
		});
		const res = await new Browser(app).get('/parallel' + ops(['save']));
		expect(res.status).toBe(200);
		// Both loads entered the session before either finished: a lazy session must share
		// one in-flight load/save rather than assume one caller at a time.
		expect(log).toEqual(['start 1', 'start 2', 'end 1', 'end 2']);
	});

	test('non-enhanced action: runs form ops and renders the page with `form`', async () => {
		const browser = new Browser(app);
		const res = await browser.post('/action', { ops: opsField(['set', 'k', 'v'], ['get', 'k']) });
		expect(res.status).toBe(200);
		expect(await results(res)).toEqual([null, 'v']);
		expect(browser.cookies().sid).toBeDefined();
	});

	test('enhanced action: JSON ActionResult with devalue-stringified data', async () => {
		const browser = new Browser(app);
		const res = await browser.post('/action', { ops: opsField(['incr', 'c'], ['incr', 'c']) }, { enhanced: true });
		expect(res.status).toBe(200);
		expect(res.headers.get('content-type')).toContain('application/json');
		const text = await res.clone().text();
		expect(await decodeActionJson(text)).toEqual({ type: 'success', status: 200, data: { results: [1, 2] } });
		expect(await results(res)).toEqual([1, 2]);
	});

	test('actions without an origin header are rejected by CSRF protection', async () => {
		const res = await app.respond(
			new Request('http://localhost/action', {
				method: 'POST',
				body: new URLSearchParams({ ops: '[]' })
			})
		);
		expect(res.status).toBe(403);
	});

	test('action redirect: 303 when not enhanced, a JSON redirect result when enhanced', async () => {
		const browser = new Browser(app);
		const plain = await browser.post('/action', { ops: opsField(['set', 'a', 1]), redirect: '/page' });
		expect(plain.status).toBe(303);
		expect(plain.headers.get('location')).toBe('/page');
		// Cookies set by the action are on the redirect response.
		expect(setCookies(plain).map((c) => c.name)).toEqual(['sid']);

		const enhanced = await browser.post('/action', { ops: opsField(['incr', 'n']), redirect: '/page' }, { enhanced: true });
		expect(enhanced.status).toBe(200);
		expect(await decodeActionJson(await enhanced.text())).toEqual({ type: 'redirect', status: 303, location: '/page' });

		expect(await results(await browser.get('/page' + ops(['get', 'a'], ['get', 'n'])))).toEqual([1, 1]);
	});

	test('/api GET and POST return JSON results', async () => {
		const browser = new Browser(app);
		expect(await results(await browser.get('/api' + ops(['set', 'a', [1, 2]], ['get', 'a'])))).toEqual([null, [1, 2]]);
		const post = await browser.request('/api' + ops(['get', 'a']), { method: 'POST', headers: { origin: browser.origin } });
		expect(post.headers.get('content-type')).toContain('application/json');
		expect(await results(post)).toEqual([[1, 2]]);
	});

	test('/api/fetched returns the body of a fetch() Response', async () => {
		const res = await new Browser(app).get('/api/fetched');
		expect(res.status).toBe(200);
		expect(await res.text()).toBe('fetched');
	});

	test('/error-page renders +error.svelte with 418 and keeps cookies set by the load', async () => {
		const browser = new Browser(app);
		const res = await browser.get('/error-page' + ops(['set', 'a', 1]));
		expect(res.status).toBe(418);
		const html = await res.text();
		expect(html).toContain('<h1 id="status">418</h1>');
		expect(html).toContain('teapot');
		expect(browser.cookies().sid).toBeDefined();
		// error() is an expected error: handleError is not called for it.
		expect(app.errors()).toEqual([]);
	});

	test('/redirect-load redirects with 303 and keeps cookies set by the load', async () => {
		const browser = new Browser(app);
		const res = await browser.get('/redirect-load' + ops(['set', 'a', 1]));
		expect(res.status).toBe(303);
		expect(res.headers.get('location')).toBe('/page');
		expect(browser.cookies().sid).toBeDefined();

		const data = await browser.get('/redirect-load/__data.json' + ops(['incr', 'a']));
		expect(data.status).toBe(200);
		expect(await decodeDataJson(await data.text())).toEqual({ type: 'redirect', location: '/page' });
		expect(await results(await browser.get('/page' + ops(['get', 'a'])))).toEqual([2]);
	});

	test('/nothing never touches the session, so nothing is set', async () => {
		const res = await new Browser(app).get('/nothing');
		expect(res.status).toBe(200);
		expect(await res.text()).toContain('<p id="ok">true</p>');
		expect(res.headers.getSetCookie()).toEqual([]);
	});

	test('an op that throws reports the error and stops', async () => {
		app.useHandle(async ({ event, resolve }) => {
			(event.locals as unknown as Record<string, unknown>).session = {
				get: () => 'ok',
				set: async () => {
					throw new RangeError('too big');
				}
			};
			return resolve(event);
		});
		const res = await new Browser(app).get('/page' + ops(['get', 'a'], ['set', 'a', 1], ['get', 'a']));
		expect(await results(res)).toEqual(['ok', { error: 'RangeError', message: 'too big' }]);
	});

	test('flash values are gone after they were read on a later request', async () => {
		const browser = new Browser(app);
		await browser.get('/page' + ops(['flash', 'msg', 'hi']));
		expect(await results(await browser.get('/page' + ops(['get', 'msg'])))).toEqual(['hi']);
		expect(await results(await browser.get('/page' + ops(['get', 'msg'])))).toEqual([null]);
	});
});

describe('Browser cookie jar', () => {
	test('Max-Age=0 and past Expires delete, Max-Age>0 expires with time', async () => {
		const browser = new Browser({
			respond: async (request) => {
				const headers = new Headers();
				const url = new URL(request.url);
				for (const c of url.searchParams.getAll('c')) headers.append('set-cookie', c);
				return new Response(request.headers.get('cookie') ?? '', { headers });
			}
		});
		const send = (...cookies: string[]) =>
			browser.get('/?' + cookies.map((c) => `c=${encodeURIComponent(c)}`).join('&'));

		await send('a=1; Path=/', 'b=hello%20world; Max-Age=60', 'c=3; Expires=Wed, 01 Jan 2020 00:00:00 GMT');
		expect(browser.cookies()).toEqual({ a: '1', b: 'hello world' });
		expect(await (await send()).text()).toBe('a=1; b=hello%20world');

		await send('a=; Max-Age=0');
		expect(browser.cookies()).toEqual({ b: 'hello world' });

		browser.setCookie('x', 'tampered');
		browser.deleteCookie('b');
		expect(browser.cookies()).toEqual({ x: 'tampered' });
		browser.clear();
		expect(browser.cookies()).toEqual({});

		jest.useFakeTimers({ now: Date.now() });
		try {
			await send('short=1; Max-Age=10');
			expect(browser.cookies()).toEqual({ short: '1' });
			jest.setSystemTime(Date.now() + 11_000);
			expect(browser.cookies()).toEqual({});
		} finally {
			jest.useRealTimers();
		}
	});

	test('parseSetCookie reads the attributes', () => {
		expect(
			parseSetCookie('sid=a%3Db; Path=/; Expires=Wed, 01 Jan 2020 00:00:00 GMT; Max-Age=5; HttpOnly; Secure; SameSite=Strict')
		).toMatchObject({
			name: 'sid',
			value: 'a=b',
			rawValue: 'a%3Db',
			path: '/',
			maxAge: 5,
			expires: new Date('2020-01-01T00:00:00Z'),
			httpOnly: true,
			secure: true,
			sameSite: 'Strict'
		});
	});

	test('an https origin is used for requests and for the action origin header', async () => {
		const browser = new Browser(app, { origin: 'https://example.com' });
		const res = await browser.post('/action', { ops: opsField(['set', 'a', 1]) }, { enhanced: true });
		expect(res.status).toBe(200);
		// Kit's cookie defaults add Secure everywhere except http://localhost.
		expect(browser.cookie('sid')?.secure).toBe(true);
	});
});

/**
 * How Kit 2 treats headers and cookies around `handle`. A session library has to design
 * around every one of these.
 */
describe('Kit behaviour a session handle must design around', () => {
	const appendCookieHandle: Handle = async ({ event, resolve }) => {
		const response = await resolve(event);
		response.headers.append('set-cookie', 'late=1; Path=/');
		return response;
	};

	const cloningAppendCookieHandle: Handle = async ({ event, resolve }) => {
		const response = await resolve(event);
		const copy = new Response(response.body, response);
		copy.headers.append('set-cookie', 'late=1; Path=/');
		return copy;
	};

	test('appending Set-Cookie to resolve()’s response works on a normal page', async () => {
		app.useHandle(appendCookieHandle);
		const res = await new Browser(app).get('/nothing');
		expect(res.status).toBe(200);
		expect(res.headers.getSetCookie()).toEqual(['late=1; Path=/']);
	});

	test('on /api/fetched the headers are immutable: appending throws (500) unless the handle clones', async () => {
		// Node 20's fetch() gives a Response whose Headers are guarded "immutable". (Errors
		// from Node's fetch/Headers come from outside Jest's realm, so `toThrow(TypeError)` /
		// `instanceof TypeError` fail under Jest: compare the name instead.)
		const fetched = await fetch('data:text/plain,fetched');
		expect(() => fetched.headers.append('set-cookie', 'x=1')).toThrow('immutable');
		expect(() => fetched.headers.append('set-cookie', 'x=1')).toThrow(expect.objectContaining({ name: 'TypeError' }));
		// So is Response.redirect()'s (Response.json()'s and `new Response()`'s are not).
		expect(() => Response.redirect('http://localhost/page', 303).headers.append('set-cookie', 'x=1')).toThrow('immutable');
		expect(() => Response.json([]).headers.append('set-cookie', 'x=1')).not.toThrow();

		app.useHandle(appendCookieHandle);
		const res = await new Browser(app).get('/api/fetched');
		expect(res.status).toBe(500);
		expect(app.errors()).toHaveLength(1);
		expect((app.errors()[0]?.error as Error).name).toBe('TypeError');
		expect(String((app.errors()[0]?.error as Error).message)).toMatch(/immutable/);

		app.clearErrors();
		app.useHandle(cloningAppendCookieHandle);
		const ok = await new Browser(app).get('/api/fetched');
		expect(ok.status).toBe(200);
		expect(ok.headers.getSetCookie()).toEqual(['late=1; Path=/']);
		expect(await ok.text()).toBe('fetched');
	});

	test('Kit itself fails (500) if event.cookies.set was used on a request whose endpoint returns fetch()', async () => {
		// Kit appends event.cookies' new cookies to whatever resolve() produced, in place.
		// With an immutable-headers Response that throws inside Kit, before the handle can
		// do anything about it.
		const browser = new Browser(app);
		const res = await browser.get('/api/fetched' + ops(['set', 'a', 1]));
		expect(res.status).toBe(500);
		expect(String((app.errors()[0]?.error as Error)?.message)).toMatch(/immutable/);
		expect(browser.cookies()).toEqual({});

		// Same with a cookie set in the handle before resolve().
		app.clearErrors();
		app.useHandle(async ({ event, resolve }) => {
			event.cookies.set('early', '1', { path: '/' });
			return resolve(event);
		});
		expect((await browser.get('/api/fetched')).status).toBe(500);
	});

	test('appending Set-Cookie works on a non-enhanced action redirect', async () => {
		app.useHandle(async (input) => {
			const inner = memorySessionHandle();
			return inner({
				event: input.event,
				resolve: async (event, opts) => {
					const response = await input.resolve(event, opts);
					response.headers.append('set-cookie', 'late=1; Path=/');
					return response;
				}
			});
		});
		const browser = new Browser(app);
		const res = await browser.post('/action', { ops: opsField(['set', 'a', 1]), redirect: '/page' });
		expect(res.status).toBe(303);
		expect(res.headers.get('location')).toBe('/page');
		expect(setCookies(res).map((c) => c.name).sort()).toEqual(['late', 'sid']);
	});

	test('a redirect thrown from handle keeps event.cookies’ new cookies', async () => {
		app.useHandle(async ({ event }) => {
			event.cookies.set('sid', 'from-handle', { path: '/' });
			kitRedirect(303, '/page');
		});
		const res = await new Browser(app).get('/nothing');
		expect(res.status).toBe(303);
		expect(setCookies(res).map((c) => `${c.name}=${c.value}`)).toEqual(['sid=from-handle']);

		// For a data request the redirect becomes a JSON redirect, still with the cookie.
		const data = await new Browser(app).get('/nothing/__data.json');
		expect(data.status).toBe(200);
		expect(await decodeDataJson(await data.text())).toEqual({ type: 'redirect', location: '/page' });
		expect(setCookies(data).map((c) => c.name)).toEqual(['sid']);
	});

	test('an error() thrown from handle drops event.cookies’ new cookies', async () => {
		app.useHandle(async ({ event }) => {
			event.cookies.set('sid', 'lost', { path: '/' });
			kitError(401, 'nope');
		});
		const res = await new Browser(app).get('/nothing');
		expect(res.status).toBe(401);
		expect(await res.text()).toContain('nope'); // the static src/error.html, not +error.svelte
		expect(res.headers.getSetCookie()).toEqual([]);
	});

	test('event.cookies.set throws once resolve() has returned', async () => {
		let lateError: unknown;
		app.useHandle(async ({ event, resolve }) => {
			const response = await resolve(event);
			try {
				event.cookies.set('late', '1', { path: '/' });
			} catch (err) {
				lateError = err;
			}
			return response;
		});
		const res = await new Browser(app).get('/nothing');
		expect(res.status).toBe(200);
		expect(String((lateError as Error)?.message)).toMatch(/Cannot use `cookies.set\(...\)` after the response has been generated/);
		expect(res.headers.getSetCookie()).toEqual([]);
	});

	test('the handle sees the same event for page and data requests; locals are per request', async () => {
		const seen: Array<Pick<RequestEvent, 'isDataRequest'> & { path: string }> = [];
		app.useHandle(async ({ event, resolve }) => {
			seen.push({ path: event.url.pathname, isDataRequest: event.isDataRequest });
			return resolve(event);
		});
		await new Browser(app).get('/nothing');
		await new Browser(app).get('/nothing/__data.json');
		// The __data.json suffix is stripped from event.url.
		expect(seen).toEqual([
			{ path: '/nothing', isDataRequest: false },
			{ path: '/nothing', isDataRequest: true }
		]);
	});
});
