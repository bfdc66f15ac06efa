/**
 * The demo app, and the cookie rules the library depends on, in each browser engine: Chromium
 * (playwright-core), Firefox (puppeteer-core over WebDriver BiDi) and WebKit (WebKitGTK's
 * WebKitWebDriver and MiniBrowser, through webdriverio), all through the small driver layer of
 * helpers/engines.ts, so one table of checks covers the three. Each engine gets one browser for
 * the file and a clean cookie jar per check; an engine that is not installed is skipped (failing
 * with CI=true), with the Debian package to install named.
 *
 * - The demo (examples/demo, built by the jest globalSetup, run with adapter-node as a server):
 *   the counter, log-in and its flash, log-out, forms without JavaScript, the chunked cart, a
 *   tampered cookie, and the attributes of the cookies it sets on http://localhost.
 * - The cookie rules, measured against a node:http server of this file on 127.0.0.1, reached as
 *   http://localhost:PORT: the size limit of one cookie (4096 bytes of name and value; the real
 *   limit is searched for and asserted), chunks at the library's cap kept and sent back, and
 *   whether a Secure cookie set over plain http://localhost is kept. These are asserted per engine
 *   (EXPECTED), so that a change in an engine shows up as a failure.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { envelope, flip } from '../helpers/envelope.js';
import { waitFor } from '../helpers/wait.js';
import { startApp, type AppServer } from '../helpers/demo-server.js';
import { ENGINES, describeEngine, type BrowserCookie, type EngineBrowser, type EngineName, type Tab } from '../helpers/engines.js';

/** What each engine does with the rules below, as measured (see the cookie-rule checks). */
const EXPECTED: Record<EngineName, { cookieLimit: number | undefined; secureOnHttpLocalhost: boolean }> = {
  // The largest name + value kept; one byte more and the cookie is dropped (the page still loads).
  chromium: { cookieLimit: 4096, secureOnHttpLocalhost: true },
  firefox: { cookieLimit: 4096, secureOnHttpLocalhost: true },
  // WebKitGTK (libsoup 3) has no limit of its own on one cookie: it keeps one as long as the
  // response's headers fit in 64 KiB, and past that refuses the whole response ("Header too big").
  // And it refuses a Secure cookie from any http:// page, localhost included.
  webkit: { cookieLimit: undefined, secureOnHttpLocalhost: false }
};

/** WebKit's bound on a response's header block, which is what bounds a cookie there. */
const RESPONSE_HEADERS_LIMIT = 64 * 1024;

/** The library's numbers: one cookie's limit, and the default cap of a chunked session. */
const COOKIE_LIMIT = 4096;
const CHUNKED_CAP = 7168;
const SECRET = 'engines-tests-secret-0123456789abcdef';
const COOKIE = '__sid';

// ---------------------------------------------------------------------------------------------
// Waiting and reading
// ---------------------------------------------------------------------------------------------

/** Waits until the element's text is `expected` (undefined: until there is no such element). */
function expectText(tab: Tab, selector: string, expected: string | undefined): Promise<unknown> {
  const want = expected === undefined ? 'no element' : JSON.stringify(expected);
  return waitFor(`${selector} should be ${want}`, () => tab.text(selector), (t) => t === expected);
}

async function expectPath(tab: Tab, pathname: string): Promise<void> {
  await waitFor(`the page should be at ${pathname}`, async () => new URL(await tab.url()).pathname, (p) => p === pathname);
}

/** The session's cookies: `__sid` and its chunks `__sid.1`, ..., sorted by name. */
async function sessionCookies(tab: Tab): Promise<BrowserCookie[]> {
  const all = await tab.cookies();
  return all.filter((c) => c.name === COOKIE || c.name.startsWith(`${COOKIE}.`)).sort((a, b) => a.name.localeCompare(b.name));
}

async function mainCookie(tab: Tab): Promise<BrowserCookie> {
  const found = (await sessionCookies(tab)).filter((c) => c.name === COOKIE);
  if (found.length !== 1) throw new Error(`the browser holds ${found.length} ${COOKIE} cookies for ${await tab.url()}, not one`);
  return found[0];
}


// ---------------------------------------------------------------------------------------------
// The cookie-rule server: sets cookies of exact sizes, and shows what the browser sent back
// ---------------------------------------------------------------------------------------------

/** A value that makes `name=value` exactly `bytes` long (name + value), different for each name. */
function valueFor(name: string, bytes: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let seed = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  let value = '';
  for (let i = 0; i < bytes - name.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    value += alphabet[seed >>> 26];
  }
  return value;
}

/** What the server received, by name: the bytes of name + value, and whether the value is the one it set. */
type Sent = Record<string, { bytes: number; intact: boolean }>;

interface RuleServer {
  origin: string;
  /**
   * `/set?c=NAME:BYTES[:secure]&x=NAME&pad=N`: sets the `c` cookies, expires the `x` ones, and
   * adds an `x-pad` header of N bytes; every page shows #sent.
   */
  url(set: Array<{ name: string; bytes: number; secure?: boolean }>, expire?: string[], pad?: number): string;
  stop(): Promise<void>;
}

async function startRuleServer(): Promise<RuleServer> {
  // Room for big Cookie headers: the limit search sends cookies far past 4 KB to engines that keep them.
  const server = http.createServer({ maxHeaderSize: 1 << 20 }, (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const setCookies: string[] = [];
    for (const spec of url.searchParams.getAll('c')) {
      const [name, bytes, flag] = spec.split(':');
      setCookies.push(`${name}=${valueFor(name, Number(bytes))}; Path=/${flag === 'secure' ? '; Secure' : ''}`);
    }
    for (const name of url.searchParams.getAll('x')) setCookies.push(`${name}=; Path=/; Max-Age=0`);
    const sent: Sent = {};
    for (const pair of (request.headers.cookie ?? '').split(/;\s*/)) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      sent[name] = { bytes: name.length + value.length, intact: value === valueFor(name, name.length + value.length) };
    }
    const pad = Number(url.searchParams.get('pad') ?? 0);
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'set-cookie': setCookies,
      ...(pad > 0 ? { 'x-pad': 'p'.repeat(pad) } : {})
    });
    response.end(`<!doctype html><title>cookies</title><pre id="sent">${JSON.stringify(sent)}</pre>`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://localhost:${port}`;
  return {
    origin,
    url(set, expire = [], pad = 0) {
      const query = new URLSearchParams();
      for (const { name, bytes, secure } of set) query.append('c', `${name}:${bytes}${secure ? ':secure' : ''}`);
      for (const name of expire) query.append('x', name);
      if (pad > 0) query.set('pad', String(pad));
      return `${origin}/set?${query}`;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })
  };
}

/** What the server said it received on the page now open (#sent). */
async function sent(tab: Tab): Promise<Sent> {
  return JSON.parse((await tab.text('#sent')) ?? 'null') as Sent;
}

/** Whether the browser holds `name` with exactly the value the server set for `bytes`. */
async function holds(tab: Tab, name: string, bytes: number): Promise<boolean> {
  const found = (await tab.cookies()).filter((c) => c.name === name);
  return found.length === 1 && found[0].value === valueFor(name, bytes);
}

/**
 * The largest name + value (bytes) the engine keeps, found by bisection between `keptAt` (kept)
 * and `droppedAt` (dropped), each probe a cookie of its own name, expired after.
 */
async function measureLimit(tab: Tab, rules: RuleServer, keptAt: number, droppedAt: number): Promise<number> {
  let lo = keptAt;
  let hi = droppedAt;
  let probe = 0;
  while (hi - lo > 1) {
    const bytes = Math.floor((lo + hi) / 2);
    const name = `probe${probe++}`;
    await tab.goto(rules.url([{ name, bytes }]));
    if (await holds(tab, name, bytes)) lo = bytes;
    else hi = bytes;
    await tab.goto(rules.url([], [name]));
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// One check: its tabs closed after, and the demo's output on failure
// ---------------------------------------------------------------------------------------------

/** What the checks measured, by engine, printed with its version after its tests. */
const measured: Partial<Record<EngineName, string[]>> = {};

interface Check {
  browser: EngineBrowser;
  demo: AppServer;
  rules: RuleServer;
  /** A tab in a fresh cookie jar, closed when the check ends. */
  open(options?: { javaScript?: boolean }): Promise<Tab>;
}

async function runCheck(browser: EngineBrowser, demo: AppServer, rules: RuleServer, body: (check: Check) => Promise<void>): Promise<void> {
  const tabs: Tab[] = [];
  const from = demo.output().length;
  const check: Check = {
    browser,
    demo,
    rules,
    async open(options) {
      const tab = await browser.open(options);
      tabs.push(tab);
      return tab;
    }
  };
  try {
    await body(check);
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    const urls = await Promise.all(tabs.map((t) => t.url().catch(() => '?')));
    const output = demo.output().slice(from).replace(/\x1b\[[0-9;]*m/g, '').trim();
    err.message +=
      `\n--- ${browser.engine} ${browser.version}; pages open: ${urls.join(', ') || 'none'}` +
      `\n--- the demo's output during this check (${demo.origin}) ---\n${output.slice(-4_000) || '(none)'}`;
    throw err;
  } finally {
    await Promise.all(tabs.map((t) => t.close().catch(() => {})));
  }
}

/** Signs in through the form, and waits until `/` shows the user. */
async function signIn(check: Check, tab: Tab, name: string): Promise<void> {
  await tab.goto(`${check.demo.origin}/login`);
  await tab.fill('#name', name);
  await tab.click('#sign-in');
  await expectPath(tab, '/');
  await expectText(tab, '#user', `Signed in as ${name}`);
}

/** The page is the demo's home page, and no error page. */
async function expectHome(tab: Tab): Promise<void> {
  const body = (await tab.text('body')) ?? '';
  if (/internal error|\b500\b/i.test(body)) throw new Error(`the page shows an error: ${body.slice(0, 500)}`);
  await expectText(tab, 'h1', 'Hello');
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

const DEMO_CHECKS: Array<{ title: string; run(check: Check): Promise<void> }> = [
  {
    title: 'the visit counter goes up across reloads (1, 2, 3)',
    async run(check) {
      const tab = await check.open();
      await tab.goto(`${check.demo.origin}/`);
      await expectText(tab, '#views', '1');
      await tab.reload();
      await expectText(tab, '#views', '2');
      await tab.reload();
      await expectText(tab, '#views', '3');
    }
  },
  {
    title: 'log-in shows the user and its flash once; log-out ends the session, with its flash once',
    async run(check) {
      const tab = await check.open();
      await signIn(check, tab, 'Ann');
      await expectText(tab, '#flash', 'Welcome, Ann!');
      await tab.reload();
      await expectText(tab, '#user', 'Signed in as Ann');
      await expectText(tab, '#flash', undefined);

      await tab.click('#logout');
      await expectPath(tab, '/');
      await expectText(tab, '#flash', 'You are signed out.');
      await expectText(tab, '#user', undefined);
      await expectText(tab, '#login-link', 'Sign in');
      await tab.reload();
      await expectText(tab, '#flash', undefined);
      await expectText(tab, '#user', undefined);
    }
  },
  {
    title: "the demo's cookies on http://localhost: none is Secure; __sid is HttpOnly, SameSite=Lax, path /",
    async run(check) {
      const tab = await check.open();
      await signIn(check, tab, 'Eve');
      await tab.goto(`${check.demo.origin}/cart`);
      await tab.fill('#item', 'tea');
      await tab.click('#add');
      await expectText(tab, '#count', '1');
      await tab.goto(`${check.demo.origin}/`);
      const cookies = await tab.cookies();
      expect(cookies.map((c) => c.name)).toContain(COOKIE);
      expect(cookies.filter((c) => c.secure).map((c) => c.name)).toEqual([]);
      const main = await mainCookie(tab);
      expect({ httpOnly: main.httpOnly, sameSite: main.sameSite?.toLowerCase(), path: main.path, domain: main.domain }).toEqual({
        httpOnly: true,
        sameSite: 'lax',
        path: '/',
        domain: 'localhost'
      });
    }
  },
  {
    title: 'with JavaScript off, the forms work: log-in and its flash, cart add, log-out',
    async run(check) {
      const tab = await check.open({ javaScript: false });
      await tab.goto(`${check.demo.origin}/login`);
      await tab.fill('#name', 'Dee');
      await tab.click('#sign-in');
      await expectPath(tab, '/');
      await expectText(tab, '#user', 'Signed in as Dee');
      await expectText(tab, '#flash', 'Welcome, Dee!');
      await tab.reload();
      await expectText(tab, '#flash', undefined);

      await tab.goto(`${check.demo.origin}/cart`);
      await tab.fill('#item', 'milk');
      await tab.click('#add');
      // Without JavaScript the form posts to its action and the browser shows the answer: with
      // it (use:enhance) the page would stay at /cart. This is how the check knows JS is off.
      await waitFor('the add form should post to /cart?/add', () => tab.url(), (url) => url.endsWith('/cart?/add'));
      await expectText(tab, '#count', '1');
      await expectText(tab, 'a[href="/cart"]', 'Cart (1)');
      await tab.goto(`${check.demo.origin}/cart`);
      await expectText(tab, '#count', '1');

      await tab.click('#logout');
      await expectPath(tab, '/');
      await expectText(tab, '#flash', 'You are signed out.');
      await expectText(tab, '#user', undefined);
      await expectText(tab, 'a[href="/cart"]', 'Cart (0)');
    }
  },
  {
    title: 'a 60-item cart spans several cookies (__sid, __sid.1, ...), each at most 4096 bytes, all kept across a reload',
    async run(check) {
      const tab = await check.open();
      await tab.goto(`${check.demo.origin}/cart`);
      await expectText(tab, '#count', '0');
      await tab.click('#many');
      await expectText(tab, '#count', '60');

      const cookies = await sessionCookies(tab);
      const main = envelope((await mainCookie(tab)).value);
      expect(main.chunks).toBeGreaterThanOrEqual(2);
      const names = Array.from({ length: main.chunks }, (_, i) => (i === 0 ? COOKIE : `${COOKIE}.${i}`)).sort();
      expect(cookies.map((c) => c.name)).toEqual(names);
      for (const c of cookies) expect(c.name.length + c.value.length).toBeLessThanOrEqual(COOKIE_LIMIT);

      await tab.reload();
      await expectText(tab, '#count', '60');
      expect((await sessionCookies(tab)).map((c) => c.name)).toEqual(names);
      await tab.goto(`${check.demo.origin}/`);
      await expectText(tab, 'a[href="/cart"]', 'Cart (60)');
      await tab.goto(`${check.demo.origin}/cart`);
      await expectText(tab, '#count', '60');
    }
  },
  {
    title: 'a cookie changed in the browser (payload or signature) gives a fresh session, not an error page',
    async run(check) {
      const tab = await check.open();
      await tab.goto(`${check.demo.origin}/`);
      for (const part of ['payload', 'signature'] as const) {
        await tab.reload();
        await expectText(tab, '#views', '2');
        const original = (await mainCookie(tab)).value;
        const parsed = envelope(original);
        expect(parsed).toMatchObject({ chunks: 1, parts: 6 });
        expect(parsed.payload.length).toBeGreaterThan(0);
        const signatureStart = original.length - parsed.signature.length;
        const payloadStart = signatureStart - 1 - parsed.payload.length;
        // Not the signature's last character: it carries spare bits.
        const at = part === 'payload' ? payloadStart + Math.floor(parsed.payload.length / 2) : signatureStart + 10;
        const tampered = flip(original, at);
        const changed = (Object.keys(parsed) as Array<keyof typeof parsed>).filter((k) => envelope(tampered)[k] !== parsed[k]);
        expect(changed).toEqual([part]);

        await tab.setCookie(COOKIE, tampered);
        // The browser now holds the changed cookie only (replaced, not added beside the old one).
        expect((await sessionCookies(tab)).map((c) => [c.name, c.value])).toEqual([[COOKIE, tampered]]);
        await tab.reload();
        await expectHome(tab);
        // A fresh session (a tampered one accepted would count 3), under a new id.
        await expectText(tab, '#views', '1');
        const fresh = envelope((await mainCookie(tab)).value);
        expect(fresh).toMatchObject({ parts: 6, version: '1' });
        expect(fresh.id).not.toBe(parsed.id);
      }
    }
  }
];

const RULE_CHECKS: Array<{ title: (engine: EngineName) => string; run(check: Check): Promise<void> }> = [
  {
    title: (engine) => {
      const { cookieLimit } = EXPECTED[engine];
      return cookieLimit === undefined
        ? `cookies of ${COOKIE_LIMIT} and ${COOKIE_LIMIT + 1} bytes of name and value are kept and sent back; no limit on one cookie below the ${RESPONSE_HEADERS_LIMIT / 1024} KiB of a response's headers`
        : `a cookie of ${COOKIE_LIMIT} bytes of name and value is kept and sent back, one of ${COOKIE_LIMIT + 1} is dropped; the limit is ${cookieLimit}`;
    },
    async run(check) {
      const tab = await check.open();
      const { rules } = check;
      const { cookieLimit } = EXPECTED[check.browser.engine];
      // What the library relies on: a cookie of 4096 bytes (a full chunk) is kept and sent back.
      await tab.goto(rules.url([{ name: 'fits', bytes: COOKIE_LIMIT }, { name: 'over', bytes: COOKIE_LIMIT + 1 }]));
      const overKept = cookieLimit === undefined || cookieLimit > COOKIE_LIMIT;
      expect({ fits: await holds(tab, 'fits', COOKIE_LIMIT), over: await holds(tab, 'over', COOKIE_LIMIT + 1) }).toEqual({ fits: true, over: overKept });
      await tab.goto(`${rules.origin}/`);
      expect(await sent(tab)).toEqual({
        fits: { bytes: COOKIE_LIMIT, intact: true },
        ...(overKept ? { over: { bytes: COOKIE_LIMIT + 1, intact: true } } : {})
      });
      await tab.goto(rules.url([], ['fits', 'over']));

      // The engine's real limit: searched for between a size every engine keeps and one far past
      // any, then both sides of it checked.
      const limit = await measureLimit(tab, rules, 1024, 256 * 1024);
      (measured[check.browser.engine] ??= []).push(`largest cookie kept: ${limit} bytes of name and value`);
      if (cookieLimit !== undefined) expect(limit).toBe(cookieLimit);
      else expect(limit).toBeGreaterThan(RESPONSE_HEADERS_LIMIT - 1024);
      expect(limit).toBeLessThan(RESPONSE_HEADERS_LIMIT);
      await tab.goto(rules.url([{ name: 'at', bytes: limit }]));
      expect(await holds(tab, 'at', limit)).toBe(true);
      await tab.goto(`${rules.origin}/`);
      expect(await sent(tab)).toEqual({ at: { bytes: limit, intact: true } });
      await tab.goto(rules.url([], ['at']));
      await tab.goto(rules.url([{ name: 'past', bytes: limit + 1 }]));
      // One byte more: the cookie dropped and the page shown, or (no limit on one cookie) the
      // whole response refused, so that the page shown is not the server's.
      const shown = (await tab.text('#sent')) !== undefined;
      await tab.goto(`${rules.origin}/`);
      expect({ shown, held: (await tab.cookies()).map((c) => c.name) }).toEqual({ shown: cookieLimit !== undefined, held: [] });
      if (cookieLimit === undefined) {
        // What bounds the cookie is the response's header block: 1 KiB less of cookie beside a
        // 2 KiB header of another name is refused too.
        await tab.goto(rules.url([{ name: 'smaller', bytes: limit - 1024 }], [], 2048));
        expect(await tab.text('#sent')).toBeUndefined();
        await tab.goto(`${rules.origin}/`);
        expect((await tab.cookies()).map((c) => c.name)).toEqual([]);
      }
    }
  },
  {
    title: () => `chunks at the library's ${CHUNKED_CAP}-byte cap (__sid and __sid.1) are both kept and both sent back`,
    async run(check) {
      const { rules } = check;
      // Two halves, and the codec's own shape: a full first chunk and the rest.
      for (const [first, second] of [
        [CHUNKED_CAP / 2, CHUNKED_CAP / 2],
        [COOKIE_LIMIT, CHUNKED_CAP - COOKIE_LIMIT]
      ]) {
        const tab = await check.open();
        await tab.goto(rules.url([{ name: COOKIE, bytes: first }, { name: `${COOKIE}.1`, bytes: second }]));
        expect([await holds(tab, COOKIE, first), await holds(tab, `${COOKIE}.1`, second)]).toEqual([true, true]);
        await tab.goto(`${rules.origin}/`);
        expect(await sent(tab)).toEqual({ [COOKIE]: { bytes: first, intact: true }, [`${COOKIE}.1`]: { bytes: second, intact: true } });
        await tab.close();
      }
    }
  },
  {
    title: (engine) =>
      `a Secure cookie set from http://localhost is ${EXPECTED[engine].secureOnHttpLocalhost ? 'kept and sent back' : 'dropped'}; one without Secure is kept`,
    async run(check) {
      const tab = await check.open();
      const { rules } = check;
      await tab.goto(rules.url([{ name: 'secure', bytes: 64, secure: true }, { name: 'plain', bytes: 64 }]));
      const kept = EXPECTED[check.browser.engine].secureOnHttpLocalhost;
      const held = await tab.cookies();
      expect(held.map((c) => [c.name, c.secure]).sort()).toEqual(kept ? [['plain', false], ['secure', true]] : [['plain', false]]);
      await tab.goto(`${rules.origin}/`);
      const back = await sent(tab);
      expect(Object.keys(back).sort()).toEqual(kept ? ['plain', 'secure'] : ['plain']);
    }
  }
];

// ---------------------------------------------------------------------------------------------
// The suite: per engine, one browser, the demo and the rule server
// ---------------------------------------------------------------------------------------------

for (const engine of ENGINES) {
  describeEngine(engine, `${engine.title}`, () => {
    let browser: EngineBrowser | undefined;
    let demo: AppServer | undefined;
    let rules: RuleServer | undefined;
    beforeAll(async () => {
      // Settled, not all: what did start is kept, so that afterAll stops it.
      const [b, d, r] = await Promise.allSettled([
        engine.launch(),
        startApp({ env: { SESSION_ADAPTER: 'cookie', SESSION_SECRET: SECRET } }),
        startRuleServer()
      ]);
      if (b.status === 'fulfilled') browser = b.value;
      if (d.status === 'fulfilled') demo = d.value;
      if (r.status === 'fulfilled') rules = r.value;
      for (const result of [b, d, r]) if (result.status === 'rejected') throw result.reason;
    }, 60_000);
    afterAll(async () => {
      if (browser) process.stdout.write(`${engine.title}: ${[browser.version, ...(measured[engine.name] ?? [])].join('; ')}\n`);
      await Promise.all([browser?.close(), demo?.stop(), rules?.stop()]);
    }, 30_000);

    const run = (body: (check: Check) => Promise<void>) => async () => {
      if (!browser) throw new Error(`${engine.title} did not start (see the error of beforeAll)`);
      if (!demo || !rules) throw new Error('the demo or the rule server did not start (see the error of beforeAll)');
      await runCheck(browser, demo, rules, body);
    };

    describe('the demo (examples/demo, the cookie strategy, chunked)', () => {
      for (const { title, run: body } of DEMO_CHECKS) it(title, run(body), 45_000);
    });
    describe('cookie rules, on http://localhost', () => {
      for (const { title, run: body } of RULE_CHECKS) it(title(engine.name), run(body), 60_000);
    });
  });
}
