/**
 * Builds and drives the SvelteKit fixture app in __tests__/fixtures/kit-app entirely
 * in-process: requests go straight into Kit's `Server#respond`, no HTTP server involved.
 *
 * The fixture delegates its `handle` hook to `globalThis.__SESSION_TEST_HANDLE__`, so each
 * test installs whatever handle it exercises with `app.useHandle(...)`.
 *
 * The built server output is imported through Jest's own ESM loader (not a native
 * `import()`), which matters for two reasons:
 *  - `globalThis` inside the fixture's hooks is the test file's `globalThis`, so
 *    `useHandle` is seen by the fixture;
 *  - the fixture and the code under test share one copy of `@sveltejs/kit`, so
 *    `instanceof`/`isRedirect`/`isHttpError` checks agree across the two.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseCookieHeader } from 'cookie';
import type { Handle, SSRManifest, Server as KitServer } from '@sveltejs/kit';
import { buildFixture, outputDirOf } from './build-kit-app.js';

// ---------------------------------------------------------------------------------------
// Paths and building
// ---------------------------------------------------------------------------------------

export const FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'kit-app');
/** Kit writes the server/client build here. */
export const OUTPUT_DIR = outputDirOf(FIXTURE_DIR);

/**
 * Builds the fixture app unless the existing output was built from exactly the current
 * fixture sources (a hash kept in a stamp file). Returns the output directory.
 */
export function buildKitApp(): Promise<string> {
	return buildFixture(FIXTURE_DIR);
}

// ---------------------------------------------------------------------------------------
// Loading and driving the server
// ---------------------------------------------------------------------------------------

export type RecordedError = { error: unknown; status: number; message: string };

type TestGlobals = {
	__SESSION_TEST_HANDLE__?: Handle;
	__SESSION_TEST_ERRORS__?: RecordedError[];
};

const testGlobals = globalThis as typeof globalThis & TestGlobals;

export interface KitApp {
	/** The underlying `Server` instance from the fixture's build. */
	readonly server: KitServer;
	/** Sends a request straight into Kit (`Server#respond`), as a client at 127.0.0.1. */
	respond(request: Request): Promise<Response>;
	/** Installs the `handle` the fixture delegates to; `undefined` restores plain `resolve`. */
	useHandle(handle: Handle | undefined): void;
	/** What requests get as `event.platform` from now on (as adapter-cloudflare gives `{ env }`). */
	usePlatform(platform: App.Platform | undefined): void;
	/** What the fixture's `handleError` has recorded since the last `clearErrors()`. */
	errors(): RecordedError[];
	clearErrors(): void;
}

let appPromise: Promise<KitApp> | undefined;

/** Builds (if needed), imports and initialises the fixture server once per test module. */
export function loadKitApp(): Promise<KitApp> {
	appPromise ??= createKitApp().catch((err) => {
		appPromise = undefined;
		throw err;
	});
	return appPromise;
}

async function createKitApp(): Promise<KitApp> {
	const outDir = await buildKitApp();
	const serverModule = (await import(pathToFileURL(path.join(outDir, 'server', 'index.js')).href)) as {
		Server: new (manifest: SSRManifest) => KitServer;
	};
	const manifestModule = (await import(
		pathToFileURL(path.join(outDir, 'server', 'manifest.js')).href
	)) as { manifest: SSRManifest };

	const server = new serverModule.Server(manifestModule.manifest);
	await server.init({ env: {} });
	let platform: App.Platform | undefined;

	return {
		server,
		respond(request) {
			return server.respond(request, { getClientAddress: () => '127.0.0.1', platform });
		},
		usePlatform(value) {
			platform = value;
		},
		useHandle(handle) {
			if (handle) testGlobals.__SESSION_TEST_HANDLE__ = handle;
			else delete testGlobals.__SESSION_TEST_HANDLE__;
		},
		errors() {
			return [...(testGlobals.__SESSION_TEST_ERRORS__ ?? [])];
		},
		clearErrors() {
			testGlobals.__SESSION_TEST_ERRORS__ = [];
		}
	};
}

// ---------------------------------------------------------------------------------------
// Cookies
// ---------------------------------------------------------------------------------------

export interface ParsedSetCookie {
	name: string;
	/** Decoded the way Kit's `cookies.get` decodes it (`decodeURIComponent`). */
	value: string;
	/** The value exactly as it appeared in the header. */
	rawValue: string;
	path?: string;
	domain?: string;
	maxAge?: number;
	expires?: Date;
	httpOnly: boolean;
	secure: boolean;
	sameSite?: string;
	partitioned: boolean;
	priority?: string;
	/** Every attribute, keyed by lower-cased name (flags map to `true`). */
	attributes: Record<string, string | true>;
}

/** Parses one `Set-Cookie` header value. */
export function parseSetCookie(header: string): ParsedSetCookie {
	const [pair = '', ...attributeParts] = header.split(';');
	const eq = pair.indexOf('=');
	if (eq < 0) throw new Error(`malformed Set-Cookie header: ${header}`);
	const name = pair.slice(0, eq).trim();
	const rawValue = pair.slice(eq + 1).trim();
	// `cookie.parse` does the unquoting/decoding; feed it just the name=value pair so an
	// attribute can never be mistaken for the cookie itself.
	const value = parseCookieHeader(`${name}=${rawValue}`)[name] ?? rawValue;

	const attributes: Record<string, string | true> = {};
	for (const part of attributeParts) {
		const trimmed = part.trim();
		if (!trimmed) continue;
		const i = trimmed.indexOf('=');
		if (i < 0) attributes[trimmed.toLowerCase()] = true;
		else attributes[trimmed.slice(0, i).trim().toLowerCase()] = trimmed.slice(i + 1).trim();
	}

	const str = (key: string) => (typeof attributes[key] === 'string' ? (attributes[key] as string) : undefined);
	const maxAgeRaw = str('max-age');
	const expiresRaw = str('expires');
	const maxAge = maxAgeRaw !== undefined && /^-?\d+$/.test(maxAgeRaw) ? Number(maxAgeRaw) : undefined;
	const expires = expiresRaw !== undefined ? new Date(expiresRaw) : undefined;

	return {
		name,
		value,
		rawValue,
		path: str('path'),
		domain: str('domain'),
		maxAge,
		expires: expires && !Number.isNaN(expires.getTime()) ? expires : undefined,
		httpOnly: 'httponly' in attributes,
		secure: 'secure' in attributes,
		sameSite: str('samesite'),
		partitioned: 'partitioned' in attributes,
		priority: str('priority'),
		attributes
	};
}

/** All `Set-Cookie` headers of a response, parsed. */
export function setCookies(response: Response): ParsedSetCookie[] {
	return response.headers.getSetCookie().map(parseSetCookie);
}

interface JarEntry {
	value: string;
	/** ms since epoch; undefined for a session cookie. */
	expiresAt?: number;
	cookie?: ParsedSetCookie;
}

export interface BrowserOptions {
	/** Where requests go by default. `http://localhost` unless given. */
	origin?: string;
}

export interface PostOptions {
	/** Send what `use:enhance` sends (JSON ActionResult back) instead of a plain form post. */
	enhanced?: boolean;
	headers?: HeadersInit;
}

/**
 * One client with a cookie jar. Cookies are kept by name only (Path and Domain are
 * ignored), values are stored decoded and re-encoded with `encodeURIComponent` when sent,
 * mirroring what Kit's `cookies.set`/`cookies.get` do by default. `Max-Age`/`Expires` are
 * honoured against `Date.now()`, so Jest's fake timers can age cookies.
 */
export class Browser {
	readonly origin: string;
	#jar = new Map<string, JarEntry>();
	/** The last response received (handy when a helper returned something else). */
	lastResponse: Response | undefined;

	constructor(
		readonly app: Pick<KitApp, 'respond'>,
		options: BrowserOptions = {}
	) {
		this.origin = new URL(options.origin ?? 'http://localhost').origin;
	}

	url(pathOrUrl: string | URL): URL {
		return new URL(pathOrUrl, this.origin + '/');
	}

	async request(pathOrUrl: string | URL, init: RequestInit = {}): Promise<Response> {
		const headers = new Headers(init.headers);
		const cookieHeader = this.cookieHeader();
		if (cookieHeader && !headers.has('cookie')) headers.set('cookie', cookieHeader);
		const request = new Request(this.url(pathOrUrl), { ...init, headers });
		const response = await this.app.respond(request);
		this.store(response);
		this.lastResponse = response;
		return response;
	}

	get(pathOrUrl: string | URL, init: RequestInit = {}): Promise<Response> {
		return this.request(pathOrUrl, { ...init, method: 'GET' });
	}

	/**
	 * Submits a form action. Non-enhanced posts look like a native browser form submission
	 * (urlencoded, `accept: text/html`); enhanced ones look like `use:enhance` (multipart
	 * FormData, `accept: application/json`, `x-sveltekit-action: true`). Both send an
	 * `origin` header equal to the browser origin so Kit's CSRF check passes.
	 */
	post(pathOrUrl: string | URL, form: Record<string, string> = {}, options: PostOptions = {}): Promise<Response> {
		const headers = new Headers(options.headers);
		if (!headers.has('origin')) headers.set('origin', this.origin);
		let body: BodyInit;
		if (options.enhanced) {
			const data = new FormData();
			for (const [key, value] of Object.entries(form)) data.append(key, value);
			body = data;
			headers.set('accept', 'application/json');
			headers.set('x-sveltekit-action', 'true');
		} else {
			body = new URLSearchParams(form);
			if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
		}
		return this.request(pathOrUrl, { method: 'POST', headers, body });
	}

	/** Applies a response's Set-Cookie headers to the jar (done automatically by `request`). */
	store(response: Response): void {
		const now = Date.now();
		for (const header of response.headers.getSetCookie()) {
			let cookie: ParsedSetCookie;
			try {
				cookie = parseSetCookie(header);
			} catch {
				continue; // a browser ignores malformed cookies
			}
			// Max-Age wins over Expires (RFC 6265 §5.3).
			let expiresAt: number | undefined;
			if (cookie.maxAge !== undefined) expiresAt = now + cookie.maxAge * 1000;
			else if (cookie.expires) expiresAt = cookie.expires.getTime();

			if (expiresAt !== undefined && expiresAt <= now) this.#jar.delete(cookie.name);
			else this.#jar.set(cookie.name, { value: cookie.value, expiresAt, cookie });
		}
	}

	#live(): Map<string, JarEntry> {
		const now = Date.now();
		for (const [name, entry] of this.#jar) {
			if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.#jar.delete(name);
		}
		return this.#jar;
	}

	/** name → (decoded) value of every unexpired cookie. */
	cookies(): Record<string, string> {
		return Object.fromEntries([...this.#live()].map(([name, entry]) => [name, entry.value]));
	}

	/** The parsed Set-Cookie that last set this cookie (undefined if set by `setCookie`). */
	cookie(name: string): ParsedSetCookie | undefined {
		return this.#live().get(name)?.cookie;
	}

	/** The `cookie` request header this browser would send now. */
	cookieHeader(): string {
		return [...this.#live()].map(([name, entry]) => `${name}=${encodeURIComponent(entry.value)}`).join('; ');
	}

	/** Sets a cookie by hand (e.g. to tamper with it); the value is stored decoded. */
	setCookie(name: string, value: string): void {
		this.#jar.set(name, { value });
	}

	deleteCookie(name: string): void {
		this.#jar.delete(name);
	}

	clear(): void {
		this.#jar.clear();
	}
}

/** `?ops=<url-encoded JSON>` for the fixture's routes, e.g. `ops(['set', 'a', 1], ['get', 'a'])`. */
export function ops(...list: Array<[string, string?, unknown?]>): string {
	return `?ops=${encodeURIComponent(JSON.stringify(list))}`;
}

/** The JSON for an action form's `ops` field. */
export function opsField(...list: Array<[string, string?, unknown?]>): string {
	return JSON.stringify(list);
}

// ---------------------------------------------------------------------------------------
// Reading results back
// ---------------------------------------------------------------------------------------

type Devalue = typeof import('devalue');
let devaluePromise: Promise<Devalue> | undefined;

/** devalue is a SvelteKit dependency (not one of ours); load it lazily. */
function loadDevalue(): Promise<Devalue> {
	devaluePromise ??= import('devalue').catch((err) => {
		devaluePromise = undefined;
		throw new Error(`cannot decode SvelteKit data without the 'devalue' package: ${err}`);
	});
	return devaluePromise;
}

function unescapeHtml(text: string): string {
	return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_, entity: string) => {
		const e = entity.toLowerCase();
		if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
		if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
		return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e] ?? `&${entity};`;
	});
}

/** The `id` of the <pre> that renders a given data key in the fixture's pages. */
function preIdFor(key: string): string {
	return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export type DataNode =
	| { type: 'skip' }
	| { type: 'data'; data: Record<string, unknown>; uses?: unknown; slash?: unknown }
	| { type: 'error'; error: unknown; status?: number };

export type DataResponse =
	| { type: 'data'; nodes: Array<DataNode | null> }
	| { type: 'redirect'; location: string }
	| { type: 'error'; error: unknown };

/** Decodes a `__data.json` response body (the first line; deferred chunks are ignored). */
export async function decodeDataJson(text: string): Promise<DataResponse> {
	const { unflatten } = await loadDevalue();
	const first = JSON.parse(text.split('\n')[0] ?? '') as
		| { type: 'data'; nodes: Array<{ type: string; data?: unknown } | null> }
		| { type: 'redirect'; location: string }
		| { type: 'error'; error: unknown };
	if (first.type !== 'data') return first;
	return {
		type: 'data',
		nodes: first.nodes.map((node) => {
			if (node?.type !== 'data') return node as DataNode | null;
			return { ...node, data: unflatten(node.data as number | unknown[]) } as DataNode;
		})
	};
}

export type ActionJson =
	| { type: 'success' | 'failure'; status: number; data?: Record<string, unknown> }
	| { type: 'redirect'; status: number; location: string }
	| { type: 'error'; status?: number; error: unknown };

/** Decodes an enhanced action's JSON `ActionResult` (its `data` is devalue-stringified). */
export async function decodeActionJson(text: string): Promise<ActionJson> {
	const { parse } = await loadDevalue();
	const result = JSON.parse(text) as ActionJson & { data?: unknown };
	if ((result.type === 'success' || result.type === 'failure') && typeof result.data === 'string') {
		return { ...result, data: parse(result.data) as Record<string, unknown> };
	}
	return result;
}

export interface ResultsOptions {
	/**
	 * Which data property holds the results: `results` (default), or `layoutResults` /
	 * `pageResults` on /parallel. In HTML it is looked up as `<pre id="results">`,
	 * `<pre id="layout-results">`, ...
	 */
	key?: string;
}

/**
 * Extracts the ops results from whatever the fixture answered: a page's HTML, a
 * `__data.json` response, an enhanced action's JSON, or a JSON endpoint. Reads the body.
 */
export async function results(response: Response, options: ResultsOptions = {}): Promise<unknown[]> {
	const key = options.key ?? 'results';
	const type = response.headers.get('content-type') ?? '';
	const text = await response.text();
	const fail = (why: string): never => {
		throw new Error(
			`no ${key} in response (${response.status} ${type || 'no content-type'}): ${why}\n${text.slice(0, 2000)}`
		);
	};

	if (type.includes('text/html')) {
		const id = preIdFor(key);
		const match = new RegExp(`<pre id="${id}">([\\s\\S]*?)</pre>`).exec(text);
		if (!match) return fail(`no <pre id="${id}">`);
		return JSON.parse(unescapeHtml(match[1] ?? '')) as unknown[];
	}

	if (new URL(response.url || 'http://x/').pathname.endsWith('/__data.json') || /^\{"type":"(data|redirect)"/.test(text)) {
		const decoded = await decodeDataJson(text);
		if (decoded.type !== 'data') return fail(`data response of type ${decoded.type}`);
		for (let i = decoded.nodes.length - 1; i >= 0; i--) {
			const node = decoded.nodes[i];
			if (node?.type === 'data' && node.data && key in node.data) return node.data[key] as unknown[];
		}
		return fail('no data node has that key');
	}

	if (type.includes('application/json')) {
		const body = JSON.parse(text) as unknown;
		if (Array.isArray(body)) return body;
		if (body && typeof body === 'object' && 'type' in body) {
			const action = await decodeActionJson(text);
			if ((action.type === 'success' || action.type === 'failure') && action.data && key in action.data) {
				return action.data[key] as unknown[];
			}
			return fail(`action result of type ${action.type}`);
		}
		return fail('unrecognised JSON');
	}

	return fail('unrecognised response');
}
