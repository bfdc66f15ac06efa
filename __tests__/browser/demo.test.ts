/**
 * The demo app (examples/demo) in a real browser: headless Chromium driven by playwright-core,
 * against the demo built with adapter-node and served as the README starts it: `npm run demo`'s
 * script (scripts/demo.mjs, with --no-build: the jest globalSetup builds it), with no ORIGIN in
 * the environment. Every check runs in a fresh browser context (its own cookie jar).
 *
 * The checks run against every entry of `targets` (a build of the demo) and every session
 * strategy of `STRATEGIES`; they only use what the demo shows (ids of its elements, its texts and
 * its `__sid` cookies), never how a target was built.
 */
import { envelope, flip } from '../helpers/envelope.js';
import { WAIT_MS, waitFor } from '../helpers/wait.js';
import type { Browser, BrowserContext, BrowserContextOptions, Cookie, Page, Response } from 'playwright-core';
import { describeBrowser, launchChromium } from '../helpers/browser.js';
import { startApp, type AppServer } from '../helpers/demo-server.js';
import { prepareUserApp } from '../helpers/user-app.js';

/** A build of the demo app that the checks run against. */
export interface Target {
  /** Shown in the test names. */
  name: string;
  /**
   * Starts the app as a server. `env` (SESSION_ADAPTER, SESSION_SECRET) comes on top of this
   * process's environment; without it the demo uses its defaults (the cookie strategy).
   */
  start(env?: Record<string, string>): Promise<AppServer>;
  /** What every browser context of this target starts with. */
  contextOptions?: BrowserContextOptions;
  /** How long `start` may take (a first build of an app can take minutes). @default 30 s */
  startTimeout?: number;
}

/** Every build of the demo the browser checks run against. Add a target here. */
export const targets: Target[] = [
  // `PORT=<free port> node scripts/demo.mjs --no-build`: what `npm run demo` serves.
  { name: 'examples/demo (SvelteKit 2)', start: (env) => startApp({ env }) },
  {
    // The demo's sources in a fresh SvelteKit 3 app with the packed package, on Node 22, served
    // by the same script (`--dir`): adapter-node 6's handler.js behind the demo's own server,
    // which tells it that requests are plain http, as on SvelteKit 2.
    name: 'the demo on SvelteKit 3 (Node 22, package from npm pack)',
    async start(env) {
      const app = await prepareUserApp(3);
      return startApp({ dir: app.dir, node: app.node, env, demoScript: true });
    },
    startTimeout: 25 * 60_000
  }
];

type Adapter = 'cookie' | 'memory';

/**
 * The strategies each target runs with. The cookie strategy (the demo's default, chunked) gets
 * every check; memory keeps the session on the server and `__sid` holds only an id, so it runs
 * the checks where that makes a difference.
 */
const STRATEGIES: Array<{ adapter: Adapter; checks: CheckName[] }> = [
  {
    adapter: 'cookie',
    checks: ['counter', 'login', 'regenerate', 'logout', 'no-js', 'chunks', 'tamper', 'guard', 'hosts', 'panel', 'panel-chunks', 'panel-tamper', 'switch']
  },
  { adapter: 'memory', checks: ['counter', 'login', 'regenerate', 'chunks', 'hosts', 'panel', 'panel-tamper', 'switch'] }
];

const SECRET = 'browser-tests-secret-0123456789abcdef';
const COOKIE = '__sid';

// ---------------------------------------------------------------------------------------------
// Reading pages and cookies
// ---------------------------------------------------------------------------------------------

/** The trimmed text of the first element matching `selector`, or undefined when there is none. */
async function text(page: Page, selector: string): Promise<string | undefined> {
  const locator = page.locator(selector);
  if ((await locator.count()) === 0) return undefined;
  return ((await locator.first().textContent({ timeout: 1_000 })) ?? '').replace(/\s+/g, ' ').trim();
}


/** Waits until the element's text is `expected` (undefined: until there is no such element). */
function expectText(page: Page, selector: string, expected: string | undefined): Promise<unknown> {
  const want = expected === undefined ? 'no element' : JSON.stringify(expected);
  return waitFor(`${selector} on ${page.url()} should be ${want}`, () => text(page, selector), (t) => t === expected);
}

/** Waits until the page is at `pathname` (and, for a full navigation, loaded). */
async function expectPath(page: Page, pathname: string): Promise<void> {
  await waitFor(`the page should be at ${pathname}`, async () => new URL(page.url()).pathname, (p) => p === pathname);
  await page.waitForLoadState('load');
}

/** The session's cookies of `origin`: `__sid` and its chunks `__sid.1`, `__sid.2`, ... */
async function sessionCookies(context: BrowserContext, origin: string): Promise<Cookie[]> {
  const all = await context.cookies(origin);
  return all.filter((c) => c.name === COOKIE || c.name.startsWith(`${COOKIE}.`)).sort((a, b) => a.name.localeCompare(b.name));
}

async function mainCookie(context: BrowserContext, origin: string): Promise<Cookie> {
  const cookie = (await sessionCookies(context, origin)).find((c) => c.name === COOKIE);
  if (!cookie) throw new Error(`the browser holds no ${COOKIE} cookie for ${origin}`);
  return cookie;
}


/** How the panel writes a time: `2026-01-02 03:04:05 UTC`, from a base-36 epoch-seconds field. */
function panelTime(base36: string): string {
  return new Date(parseInt(base36, 36) * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** The full Set-Cookie lines the panel lists (each item's title). */
async function panelLines(page: Page): Promise<string[]> {
  return page.locator('#set-cookie li').evaluateAll((items) => items.map((item) => item.getAttribute('title') ?? ''));
}

/** Waits until the panel has read the cookie the browser holds now: its #env-id is the cookie's id. */
async function panelReads(page: Page, context: BrowserContext, origin: string): Promise<ReturnType<typeof envelope>> {
  const main = envelope((await mainCookie(context, origin)).value);
  await expectText(page, '#env-id', main.id);
  return main;
}

/** What addCookies() takes of a cookie read with cookies(). */
const cookieToAdd = ({ name, value, domain, path, expires, httpOnly, secure, sameSite }: Cookie) => ({
  name, value, domain, path, expires, httpOnly, secure, sameSite
});

// ---------------------------------------------------------------------------------------------
// One check: fresh contexts, navigation that fails loudly, failures that say what happened
// ---------------------------------------------------------------------------------------------

class Visit {
  readonly #contexts: BrowserContext[] = [];
  /** Uncaught page errors and failed responses, for the failure message. */
  readonly #events: string[] = [];
  /** Where this check's part of the server's output starts (one server serves several checks). */
  readonly #outputFrom: number;

  constructor(
    readonly browser: Browser,
    readonly server: AppServer,
    readonly adapter: Adapter,
    readonly target: Target
  ) {
    this.#outputFrom = server.output().length;
  }

  get origin(): string {
    return this.server.origin;
  }

  /** A fresh context (its own cookies) and a page in it. */
  async open(options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.browser.newContext({ ...this.target.contextOptions, ...options });
    this.#contexts.push(context);
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(10_000);
    const page = await context.newPage();
    page.on('pageerror', (error) => this.#events.push(`page error on ${page.url()}: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() >= 500) this.#events.push(`${response.request().method()} ${response.url()} -> ${response.status()}`);
    });
    return { context, page };
  }

  /**
   * The addresses a browser may open the demo at: http://localhost:PORT (the README's) and
   * http://127.0.0.1:PORT. The server takes each request as http://<the Host it was sent to>.
   */
  get origins(): string[] {
    return [this.origin, this.origin.replace('//localhost:', '//127.0.0.1:')];
  }

  /** A full navigation to `origin + pathname`; throws (with the page's body) unless 200. */
  async goto(page: Page, pathname: string, origin = this.origin): Promise<Response> {
    return this.#ok(`GET ${origin}${pathname}`, await page.goto(origin + pathname, { waitUntil: 'load' }));
  }

  async reload(page: Page): Promise<Response> {
    return this.#ok(`reload of ${page.url()}`, await page.reload({ waitUntil: 'load' }));
  }

  async #ok(what: string, response: Response | null): Promise<Response> {
    if (!response) throw new Error(`${what}: no response`);
    if (response.status() !== 200) {
      const html = await response.text().catch(() => '');
      const body = html.replace(/<(style|script)\b[\s\S]*?<\/\1>/gi, '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
      throw new Error(`${what}: status ${response.status()}, the page says: ${body.slice(0, 500) || '(nothing)'}`);
    }
    return response;
  }

  /** Signs in through the form and waits until `/` shows the user. */
  async signIn(page: Page, name: string, origin = this.origin): Promise<void> {
    await this.goto(page, '/login', origin);
    await page.fill('#name', name);
    await page.click('#sign-in');
    await expectPath(page, '/');
    await expectText(page, '#user', `Signed in as ${name}`);
  }

  /** Runs `body`; a failure's message starts with `what`. */
  async step(what: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error) {
      if (error instanceof Error) error.message = `${what}: ${error.message}`;
      throw error;
    }
  }

  /** Runs a check, closing its contexts after, and adds what the page and server saw to a failure. */
  async run(check: (visit: Visit) => Promise<void>): Promise<void> {
    try {
      await check(this);
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      const pages = this.#contexts.flatMap((c) => c.pages().map((p) => p.url()));
      const output = this.server.output().slice(this.#outputFrom).replace(/\x1b\[[0-9;]*m/g, '').trim();
      err.message +=
        `\n--- pages open: ${pages.join(', ') || 'none'}` +
        (this.#events.length ? `\n--- seen in the browser ---\n${this.#events.join('\n')}` : '') +
        `\n--- server output during this check (${this.origin}, SESSION_ADAPTER=${this.adapter}) ---\n` +
        (output.length > 6_000 ? `...${output.slice(-6_000)}` : output || '(none)');
      throw err;
    } finally {
      await Promise.all(this.#contexts.map((c) => c.close().catch(() => {})));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

type CheckName =
  | 'counter'
  | 'login'
  | 'regenerate'
  | 'logout'
  | 'no-js'
  | 'chunks'
  | 'tamper'
  | 'guard'
  | 'hosts'
  | 'panel'
  | 'panel-chunks'
  | 'panel-tamper'
  | 'switch';

const CHECKS: Record<CheckName, { title: string; run(visit: Visit): Promise<void> }> = {
  counter: {
    title: 'the visit counter goes up across reloads (1, 2, 3)',
    async run(visit) {
      const { page } = await visit.open();
      await visit.goto(page, '/');
      await expectText(page, '#views', '1');
      await visit.reload(page);
      await expectText(page, '#views', '2');
      await visit.reload(page);
      await expectText(page, '#views', '3');
    }
  },

  login: {
    title: 'log-in shows the user, and its flash message once: gone after client-side navigation, a reload and on another page',
    async run(visit) {
      const { page } = await visit.open();
      await visit.signIn(page, 'Ann');
      await expectText(page, '#flash', 'Welcome, Ann!');

      // A link followed by SvelteKit's client-side router: the root layout loads again, and the
      // flash, already read, is gone.
      await page.click('a[href="/session"]');
      await expectPath(page, '/session');
      await expectText(page, '#flash', undefined);
      await expectText(page, '#user', 'Signed in as Ann');
      await page.click('a[href="/"]');
      await expectPath(page, '/');

      await visit.reload(page);
      await expectText(page, '#user', 'Signed in as Ann');
      await expectText(page, '#flash', undefined);

      await visit.goto(page, '/cart');
      await expectText(page, 'h1', 'Cart');
      await expectText(page, '#user', 'Signed in as Ann');
      await expectText(page, '#flash', undefined);
    }
  },

  regenerate: {
    title: 'log-in gives the session a new id, and the cookie from before log-in does not carry the user',
    async run(visit) {
      const { context, page } = await visit.open();
      await visit.goto(page, '/');
      await expectText(page, '#views', '1');
      const before = await mainCookie(context, visit.origin);
      expect(envelope(before.value)).toMatchObject({ parts: 6, version: '1' });

      await visit.signIn(page, 'Bea');
      const after = await mainCookie(context, visit.origin);
      expect(envelope(after.value)).toMatchObject({ parts: 6, version: '1' });
      if (envelope(after.value).id === envelope(before.value).id) {
        throw new Error(`log-in kept the session id ${envelope(before.value).id}: it should regenerate() it`);
      }

      // Someone who kept the cookie from before log-in (or planted it) is not signed in with it.
      const replay = await visit.open();
      await replay.context.addCookies([cookieToAdd(before)]);
      await visit.goto(replay.page, '/');
      await expectText(replay.page, 'h1', 'Hello');
      await expectText(replay.page, '#user', undefined);
      await expectText(replay.page, '#login-link', 'Sign in');
    }
  },

  logout: {
    title: 'log-out ends the session: no user, no cart in /session, and its flash message once',
    async run(visit) {
      const { page } = await visit.open();
      await visit.signIn(page, 'Cal');
      await visit.goto(page, '/cart');
      await page.fill('#item', 'tea');
      await page.click('#add');
      await expectText(page, '#count', '1');
      await visit.goto(page, '/session');
      const signedIn = JSON.parse((await text(page, '#session')) ?? 'null');
      expect(signedIn).toMatchObject({ user: { name: 'Cal' }, cart: [{ item: 'tea', qty: 1 }] });

      await page.click('#logout');
      await expectPath(page, '/');
      await expectText(page, '#flash', 'You are signed out.');
      await expectText(page, '#login-link', 'Sign in');
      await expectText(page, '#user', undefined);

      await visit.reload(page);
      await expectText(page, '#views', '2');
      await expectText(page, '#flash', undefined);

      await visit.goto(page, '/session');
      await expectText(page, 'h1', 'The session');
      const signedOut = JSON.parse((await text(page, '#session')) ?? 'null');
      expect(signedOut).not.toHaveProperty('user');
      expect(signedOut).not.toHaveProperty('cart');
      expect(signedOut).not.toHaveProperty('message');
      await expectText(page, '#flash', undefined);
      await expectText(page, 'a[href="/cart"]', 'Cart (0)');
    }
  },

  'no-js': {
    title: 'with JavaScript off, the forms work: log-in and its flash, cart add, log-out',
    async run(visit) {
      const { page } = await visit.open({ javaScriptEnabled: false });
      await visit.goto(page, '/login');
      await page.fill('#name', 'Dee');
      await page.click('#sign-in');
      await expectPath(page, '/');
      await expectText(page, '#user', 'Signed in as Dee');
      await expectText(page, '#flash', 'Welcome, Dee!');
      await visit.reload(page);
      await expectText(page, '#flash', undefined);

      await visit.goto(page, '/cart');
      await page.fill('#item', 'milk');
      await page.click('#add');
      await waitFor('the add form should post to /cart?/add', async () => page.url(), (url) => url.endsWith('/cart?/add'));
      await page.waitForLoadState('load');
      await expectText(page, '#count', '1');
      await expectText(page, 'a[href="/cart"]', 'Cart (1)');
      await visit.goto(page, '/cart');
      await expectText(page, '#count', '1');

      await page.click('#logout');
      await expectPath(page, '/');
      await expectText(page, '#flash', 'You are signed out.');
      await expectText(page, '#user', undefined);
      await expectText(page, 'a[href="/cart"]', 'Cart (0)');
    }
  },

  chunks: {
    title: 'a 60-item cart survives reloads and navigation, and emptying it leaves one cookie',
    async run(visit) {
      const { context, page } = await visit.open();
      await visit.goto(page, '/cart');
      await page.click('#many');
      await expectText(page, '#count', '60');

      const cookies = await sessionCookies(context, visit.origin);
      const main = envelope((await mainCookie(context, visit.origin)).value);
      if (visit.adapter === 'cookie') {
        // The data is in the cookies: `~N~` and the first piece in __sid, the rest in __sid.1 ...
        expect(main.chunks).toBeGreaterThanOrEqual(2);
        const names = Array.from({ length: main.chunks }, (_, i) => (i === 0 ? COOKIE : `${COOKIE}.${i}`));
        expect(cookies.map((c) => c.name)).toEqual(names.sort());
      } else {
        // The data is on the server: one cookie with the id and an empty payload.
        expect(cookies.map((c) => c.name)).toEqual([COOKIE]);
        expect(main).toMatchObject({ chunks: 1, parts: 6, version: '1', payload: '' });
      }

      await visit.reload(page);
      await expectText(page, '#count', '60');
      await visit.goto(page, '/');
      await expectText(page, 'a[href="/cart"]', 'Cart (60)');
      await visit.goto(page, '/cart');
      await expectText(page, '#count', '60');

      // The demo refuses a second batch, with a message rather than an error.
      await page.click('#many');
      await waitFor('#full should say the cart is full', () => text(page, '#full'), (t) => /cart is full/i.test(t ?? ''));
      await expectText(page, '#count', '60');

      await page.click('#clear');
      await expectText(page, '#count', '0');
      await waitFor(
        `after emptying the cart only ${COOKIE} should be left`,
        async () => (await sessionCookies(context, visit.origin)).map((c) => c.name),
        (names) => names.length === 1 && names[0] === COOKIE
      );
      expect(envelope((await mainCookie(context, visit.origin)).value).chunks).toBe(1);
      await visit.reload(page);
      await expectText(page, '#count', '0');
    }
  },

  guard: {
    title: 'a redirect() from the handle inside handleSession sends a visitor to log-in, and back after it',
    async run(visit) {
      const { page } = await visit.open();
      await page.goto(visit.origin + '/account', { waitUntil: 'load' });
      await expectPath(page, '/login');
      expect(new URL(page.url()).searchParams.get('next')).toBe('/account');
      await page.fill('#name', 'Bo');
      await page.click('#sign-in');
      await expectPath(page, '/account');
      await expectText(page, '#user', 'Signed in as Bo');
      const account = await text(page, '#account');
      expect(account).toMatch(/^Signed in as Bo since \d{4}-/);
    }
  },

  tamper: {
    title: 'a cookie changed in the browser (payload or signature) gives a fresh session, not an error',
    async run(visit) {
      const { context, page } = await visit.open();
      await visit.goto(page, '/');
      await visit.reload(page);
      await expectText(page, '#views', '2');
      const original = await mainCookie(context, visit.origin);
      const parsed = envelope(original.value);
      expect(parsed).toMatchObject({ chunks: 1, parts: 6 });
      expect(parsed.payload.length).toBeGreaterThan(0);

      // One character in the middle of the payload, and one in the signature (not its last: that
      // one carries spare bits).
      const signatureStart = original.value.length - parsed.signature.length;
      const payloadStart = signatureStart - 1 - parsed.payload.length;
      const changes = [
        ['payload', payloadStart + Math.floor(parsed.payload.length / 2)],
        ['signature', signatureStart + 10]
      ] as const;
      for (const [part, at] of changes) {
        await visit.step(`with one character of the ${part} changed`, async () => {
          const tampered = flip(original.value, at);
          const changed = (Object.keys(parsed) as Array<keyof typeof parsed>).filter((k) => envelope(tampered)[k] !== parsed[k]);
          expect(changed).toEqual([part]);
          const { context: other, page: otherPage } = await visit.open();
          await other.addCookies([cookieToAdd({ ...original, value: tampered })]);
          await visit.goto(otherPage, '/'); // throws unless the status is 200
          const body = await otherPage.locator('body').innerText();
          if (/error|\b500\b/i.test(body)) throw new Error(`the page shows an error:\n${body}`);
          await expectText(otherPage, 'h1', 'Hello');
          await expectText(otherPage, '#views', '1');
          // The server replaced it with a new session's cookie.
          const fresh = envelope((await mainCookie(other, visit.origin)).value);
          expect(fresh).toMatchObject({ parts: 6, version: '1' });
          expect(fresh.id).not.toBe(parsed.id);
        });
      }
    }
  },

  hosts: {
    title: 'forms work at http://localhost:PORT and at http://127.0.0.1:PORT (no ORIGIN set), and no cookie the demo sets is Secure over http',
    async run(visit) {
      for (const origin of visit.origins) {
        await visit.step(`at ${origin}`, async () => {
          // The enhanced form (fetch with the page's Origin) ...
          const { context, page } = await visit.open();
          await visit.signIn(page, 'Hal', origin);
          await expectText(page, '#flash', 'Welcome, Hal!');
          await visit.goto(page, '/cart', origin);
          await page.fill('#item', 'tea');
          await page.click('#add');
          await expectText(page, '#count', '1');

          // ... and a plain form post, without JavaScript.
          const plain = await visit.open({ javaScriptEnabled: false });
          await visit.goto(plain.page, '/login', origin);
          await plain.page.fill('#name', 'Ida');
          await plain.page.click('#sign-in');
          await expectPath(plain.page, '/');
          await expectText(plain.page, '#user', 'Signed in as Ida');

          // WebKit drops a Secure cookie set over plain http, localhost included.
          for (const jar of [context, plain.context]) {
            const cookies = await jar.cookies(origin);
            expect(cookies.map((c) => c.name)).toContain(COOKIE);
            expect(cookies.filter((c) => c.secure).map((c) => c.name)).toEqual([]);
          }
        });
      }
    }
  },

  panel: {
    title: 'the panel shows what the browser holds: the envelope decoded (id, times, a valid signature), its size, and the Set-Cookie that sent it',
    async run(visit) {
      const { context, page } = await visit.open();
      await visit.goto(page, '/');
      await expectText(page, '#views', '1');
      const cookie = await mainCookie(context, visit.origin);
      const main = await panelReads(page, context, visit.origin);
      await expectText(page, '#strategy', visit.adapter);
      await expectText(page, '#env-signature', 'valid');
      await expectText(page, '#env-created', panelTime(main.created));
      await waitFor('#env-expires should give the expiry', () => text(page, '#env-expires'), (t) => (t ?? '').startsWith(panelTime(main.expires)));
      const bytes = COOKIE.length + cookie.value.length;
      await waitFor(`#env-size should count ${bytes} bytes in one cookie`, () => text(page, '#env-size'), (t) => (t ?? '').startsWith(`${bytes} bytes in 1 cookie;`));

      // The response that created the session sent exactly this cookie, not Secure over http.
      await expectText(page, '#set-cookie-from', 'GET / → 200');
      const lines = await panelLines(page);
      expect(lines).toHaveLength(1);
      expect(lines[0].startsWith(`${COOKIE}=${cookie.value};`)).toBe(true);
      expect(lines[0]).not.toMatch(/;\s*secure/i);

      if (visit.adapter === 'cookie') {
        // The data is in the cookie: the payload decodes to the session.
        await expectText(page, '#env-payload', `${main.payload.length} characters of base64url`);
        expect(JSON.parse((await text(page, '#env-data')) ?? 'null')).toEqual({ views: 1 });
      } else {
        // The cookie holds only the id.
        await expectText(page, '#env-payload', 'empty');
        expect(await text(page, '#env-data-none')).toMatch(/looks the id up in its store \(memory\)/);
        await expectText(page, '#env-data', undefined);
      }

      // A page that only reads the session: no Set-Cookie, and the browser keeps its cookie.
      await visit.goto(page, '/session');
      await expectText(page, '#last-response', 'GET /session → 200');
      await waitFor('#no-set-cookie should say nothing was sent', () => text(page, '#no-set-cookie'), (t) => /^No Set-Cookie/.test(t ?? ''));
      await expectText(page, '#env-id', main.id);
      await expectText(page, '#set-cookie-from', 'GET / → 200');
    }
  },

  'panel-chunks': {
    title: 'with a 60-item cart the panel lists every chunk, the total against the 7168-byte cap, and the decoded cart',
    async run(visit) {
      const { context, page } = await visit.open();
      await visit.goto(page, '/cart');
      await page.click('#many');
      await expectText(page, '#count', '60');
      const cookies = await sessionCookies(context, visit.origin);
      expect(cookies.length).toBeGreaterThanOrEqual(2);
      await panelReads(page, context, visit.origin);
      const total = cookies.reduce((sum, c) => sum + c.name.length + c.value.length, 0);
      await expectText(page, '#env-size', `${total} bytes in ${cookies.length} cookies; the strategy's cap on all of them: 7168 bytes`);
      await expectText(page, '#env-signature', 'valid');
      const rows = await page.locator('#cookies code').allTextContents();
      expect(rows).toEqual([COOKIE, ...Array.from({ length: cookies.length - 1 }, (_, i) => `${COOKIE}.${i + 1}`)]);
      const data = JSON.parse((await text(page, '#env-data')) ?? 'null');
      expect(data.cart).toHaveLength(60);
      // The action's response sent the pieces; the form's data reload after it sent none.
      await expectText(page, '#set-cookie-from', 'POST /cart?/many → 200');
      expect((await panelLines(page)).map((line) => line.slice(0, line.indexOf('=')))).toEqual(rows);
    }
  },

  'panel-tamper': {
    title: '"Tamper with the cookie" changes one character: the panel says the signature is invalid, and the next page gets a fresh session',
    async run(visit) {
      const { context, page } = await visit.open();
      await visit.goto(page, '/');
      await visit.reload(page);
      await expectText(page, '#views', '2');
      const original = await panelReads(page, context, visit.origin);
      await expectText(page, '#env-signature', 'valid');

      await page.click('#tamper');
      await expectText(page, '#env-signature', 'invalid');
      await waitFor('#env-problem should say the signature does not match', () => text(page, '#env-problem'), (t) => /signature does not match/.test(t ?? ''));
      const tampered = (await mainCookie(context, visit.origin)).value;
      const before = original;
      expect(envelope(tampered)).not.toEqual(before);

      await visit.reload(page);
      await expectText(page, '#views', '1');
      const fresh = await panelReads(page, context, visit.origin);
      expect(fresh.id).not.toBe(original.id);
      await expectText(page, '#env-signature', 'valid');
    }
  },

  switch: {
    title: 'the strategy switch ends the session and starts one in the other strategy: with memory the cookie holds only the id, with cookie the data',
    async run(visit) {
      const other: Adapter = visit.adapter === 'cookie' ? 'memory' : 'cookie';
      const { context, page } = await visit.open();
      await visit.goto(page, '/');
      await visit.reload(page);
      await expectText(page, '#views', '2');
      await expectText(page, '#strategy', visit.adapter);
      const before = await panelReads(page, context, visit.origin);

      for (const [from, to] of [
        [visit.adapter, other],
        [other, visit.adapter]
      ] as const) {
        await visit.step(`switching from ${from} to ${to}`, async () => {
          await page.click(`#strategy-${to}`);
          await expectPath(page, '/');
          await expectText(page, '#strategy', to);
          await expectText(page, '#views', '1');
          const now = await panelReads(page, context, visit.origin);
          expect(now.id).not.toBe(before.id);
          if (to === 'memory') {
            expect(now.payload).toBe('');
            await expectText(page, '#env-payload', 'empty');
          } else {
            expect(now.payload.length).toBeGreaterThan(0);
            expect(JSON.parse((await text(page, '#env-data')) ?? 'null')).toEqual({ views: 1 });
          }
          await visit.reload(page);
          await expectText(page, '#views', '2');
          const choice = (await context.cookies(visit.origin)).find((c) => c.name === 'demo_strategy');
          expect(choice).toMatchObject({ value: to, secure: false, httpOnly: true });
        });
      }
    }
  }
};

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

describeBrowser('the demo in Chromium', () => {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
  });

  for (const target of targets) {
    for (const { adapter, checks } of STRATEGIES) {
      describe(`${target.name}, SESSION_ADAPTER=${adapter}`, () => {
        let server: AppServer | undefined;
        beforeAll(async () => {
          server = await target.start({ SESSION_ADAPTER: adapter, SESSION_SECRET: SECRET });
        }, target.startTimeout ?? 30_000);
        afterAll(async () => {
          await server?.stop();
        });

        for (const name of checks) {
          it(CHECKS[name].title, async () => {
            if (!browser) throw new Error('Chromium did not start (see the error of beforeAll)');
            if (!server) throw new Error(`${target.name} did not start (see the error of beforeAll)`);
            await new Visit(browser, server, adapter, target).run(CHECKS[name].run);
          }, 30_000);
        }
      });
    }
  }
});
