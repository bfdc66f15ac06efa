/**
 * Libraries built on @svelte-dev/session 1.1.3 work unchanged on top of this package:
 * `@svelte-dev/auth` 1.1.3 and `@svelte-dev/auth-oauth2` 1.0.2 from the npm registry, in a
 * SvelteKit 2 app (adapter-node) that installs this package from its `npm pack` tarball, with the
 * hooks written as their docs show (`handleAuth({ adapter, session, cookie, autoRouting,
 * strategies, successRedirect, failureRedirect })`), built with Vite and served over HTTP.
 *
 * Driven as a browser would be, with a cookie jar and no redirect following:
 * - a form strategy (a `Strategy` subclass of the app): log-in, and a wrong password's flashed
 *   `auth:error`, shown once;
 * - `OAuth2Strategy` against a mock OAuth2 provider run here (node:http on 127.0.0.1): the whole
 *   authorization-code flow, and a callback with a wrong state;
 * - log-out (`locals.auth.logout()`, which calls 1.1.3's `session.destory()`): the user is gone, and
 *   with a store an old cookie replayed does not bring them back. (With the cookie strategy an old
 *   cookie stays valid until it expires, as the README says: only the browser's view is checked.)
 * Each with the chunked cookie strategy and with the memory store; and svelte-check of the app
 * against this package's declarations (`AuthOptions & SessionStorageOptions`).
 *
 * The first run installs and builds the app (minutes); later runs reuse it (helpers/auth-app.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { checkAuthApp, prepareAuthApp, AUTH_OAUTH2_VERSION, AUTH_VERSION } from '../helpers/auth-app.js';
import { CookieClient, startApp, withOutputOf, type AppServer } from '../helpers/demo-server.js';
import { ROOT, type UserApp } from '../helpers/user-app.js';

const CLIENT_ID = 'auth-compat-app';
const CLIENT_SECRET = 'auth-compat-client-secret';
const SESSION_SECRET = 'auth-compat-session-secret-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';

// ---------------------------------------------------------------------------------------------
// The mock OAuth2 provider
// ---------------------------------------------------------------------------------------------

interface TokenRequest {
  params: Record<string, string>;
  ok: boolean;
}

interface MockProvider {
  readonly url: string;
  /** Every POST /token, with its form parameters and whether it was granted. */
  readonly tokenRequests: TokenRequest[];
  stop(): Promise<void>;
}

/**
 * An OAuth2 provider: GET /authorize redirects back to `redirect_uri` with a one-time `code` and
 * the `state` it got (for the right client_id); POST /token answers `{ access_token,
 * refresh_token }` for that code with the right client credentials and redirect_uri; GET
 * /userinfo answers the user for the access token.
 */
async function startProvider(): Promise<MockProvider> {
  const codes = new Map<string, { redirectUri: string }>();
  const tokens = new Map<string, { sub: string; name: string }>();
  const tokenRequests: TokenRequest[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://provider.invalid');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };

    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      const redirectUri = q.get('redirect_uri');
      if (q.get('client_id') !== CLIENT_ID || q.get('response_type') !== 'code' || !redirectUri || !q.get('state')) {
        return send(400, { error: 'invalid_request' });
      }
      // The user signs in at the provider and consents; back to the app.
      const code = randomBytes(12).toString('hex');
      codes.set(code, { redirectUri });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state')!);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }

    if (req.method === 'POST' && url.pathname === '/token') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const params = Object.fromEntries(new URLSearchParams(body));
        const grant = codes.get(params.code ?? '');
        const ok =
          params.grant_type === 'authorization_code' &&
          params.client_id === CLIENT_ID &&
          params.client_secret === CLIENT_SECRET &&
          grant !== undefined &&
          grant.redirectUri === params.redirect_uri;
        tokenRequests.push({ params, ok });
        if (!ok) return send(400, { error: 'invalid_grant' });
        codes.delete(params.code); // one use
        const accessToken = randomBytes(16).toString('hex');
        tokens.set(accessToken, { sub: 'grace', name: 'Grace Hopper' });
        send(200, { access_token: accessToken, refresh_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 3600 });
      });
      return;
    }

    if (req.method === 'GET' && url.pathname === '/userinfo') {
      const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      return user ? send(200, user) : send(401, { error: 'invalid_token' });
    }

    send(404, { error: 'not_found' });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tokenRequests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })
  };
}

// ---------------------------------------------------------------------------------------------
// Reading the app's pages
// ---------------------------------------------------------------------------------------------

/** Svelte's SSR leaves `<!---->` markers between text and expressions. */
const stripMarkers = (html: string) => html.replace(/<!--[^>]*-->/g, '');

/** The signed-in user's name in the layout, or null for "Not signed in". */
function userOf(html: string): string | null {
  const text = stripMarkers(html);
  const signedIn = /<span id="user">Signed in as <strong>([^<]*)<\/strong>/.exec(text);
  if (signedIn) return signedIn[1];
  if (/<span id="anonymous">Not signed in<\/span>/.test(text)) return null;
  throw new Error(`neither a user nor "Not signed in" in the page:\n${html.slice(0, 3000)}`);
}

/** The home page's strategy (locals.session.get('strategy')). */
function strategyOf(html: string): string | undefined {
  return /<span id="strategy">([^<]*)<\/span>/.exec(stripMarkers(html))?.[1];
}

/** The failure page's flashed `auth:error` message, or null when it shows none. */
function authErrorOf(html: string): string | null {
  const text = stripMarkers(html);
  const shown = /<p id="auth-error" role="alert">([^<]*)<\/p>/.exec(text);
  if (shown) return shown[1].replace(/&#39;|&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  if (/<p id="no-error">/.test(text)) return null;
  throw new Error(`not the failure page:\n${html.slice(0, 3000)}`);
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

describe(`@svelte-dev/auth ${AUTH_VERSION} and @svelte-dev/auth-oauth2 ${AUTH_OAUTH2_VERSION} on this package (SvelteKit 2, adapter-node)`, () => {
  let app: UserApp;
  let provider: MockProvider;

  beforeAll(async () => {
    app = await prepareAuthApp();
    provider = await startProvider();
  }, 25 * 60_000);

  afterAll(async () => {
    await provider?.stop();
  });

  it('has both libraries from the registry, and @svelte-dev/auth resolves @svelte-dev/session to the tarball (no other copy)', () => {
    const modules = path.join(app.dir, 'node_modules');
    const versionOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version as string;
    expect(versionOf(path.join(modules, '@svelte-dev', 'auth'))).toBe(AUTH_VERSION);
    expect(versionOf(path.join(modules, '@svelte-dev', 'auth-oauth2'))).toBe(AUTH_OAUTH2_VERSION);

    // Where Node (and Vite, which resolves the same way) finds @svelte-dev/session from auth's code.
    const fromAuth = createRequire(path.join(modules, '@svelte-dev', 'auth', 'dist', 'index.js'));
    const found = (fromAuth.resolve.paths('@svelte-dev/session') ?? []).find((dir) => existsSync(path.join(dir, '@svelte-dev', 'session', 'package.json')));
    expect(found).toBe(modules);
    const installed = path.join(modules, '@svelte-dev', 'session');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(versionOf(installed)).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    const appManifest = JSON.parse(readFileSync(path.join(app.dir, 'package.json'), 'utf8'));
    expect(appManifest.dependencies['@svelte-dev/session']).toMatch(/^file:\.\/.*\.tgz$/);

    // No second copy (1.1.3 from the registry, say, for auth-oauth2's optional dependency).
    const copies: string[] = [];
    const walk = (modulesDir: string) => {
      for (const entry of readdirSync(modulesDir, { withFileTypes: true })) {
        if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
        const packages = entry.name.startsWith('@')
          ? readdirSync(path.join(modulesDir, entry.name), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${entry.name}/${e.name}`)
          : [entry.name];
        for (const name of packages) {
          const dir = path.join(modulesDir, name);
          if (name === '@svelte-dev/session') copies.push(path.relative(app.dir, dir));
          if (existsSync(path.join(dir, 'node_modules'))) walk(path.join(dir, 'node_modules'));
        }
      }
    };
    walk(modules);
    expect(copies).toEqual([path.join('node_modules', '@svelte-dev', 'session')]);
  });

  it('type-checks (svelte-kit sync, then svelte-check): handleAuth()\'s `AuthOptions & SessionStorageOptions` with adapter, session and cookie, the form strategy, locals', async () => {
    const { code, output } = await checkAuthApp(app);
    // Machine output: "<time> ERROR|WARNING "<file>" <line>:<col> "<message>"" lines, then COMPLETED.
    const problems = output.split('\n').filter((line) => /^\d+ (ERROR|WARNING) /.test(line));
    // It did check the app: its .ts and .svelte files (and the type probe, src/lib/type-probe.ts).
    expect(Number(/COMPLETED (\d+) FILES/.exec(output)?.[1])).toBeGreaterThanOrEqual(14);
    expect({ code, problems }).toEqual({ code: 0, problems: [] });
  }, 5 * 60_000);

  describe.each(['cookie', 'memory'] as const)('with adapter %s', (adapter) => {
    let server: AppServer;

    beforeAll(async () => {
      server = await startApp({
        dir: app.dir,
        node: app.node,
        env: {
          SESSION_ADAPTER: adapter,
          SESSION_SECRET,
          OAUTH_PROVIDER_URL: provider.url,
          OAUTH_CLIENT_ID: CLIENT_ID,
          OAUTH_CLIENT_SECRET: CLIENT_SECRET
        }
      });
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
    });

    /** Runs `fn`, adding the server's output to a failure. */
    const withServerOutput = (fn: () => Promise<void>) => withOutputOf(server, fn);

    /** A GET of one page; expects 200 and resolves with the HTML. */
    async function page(client: CookieClient, pathname: string): Promise<string> {
      const response = await client.request(server.origin, pathname);
      const html = await response.text();
      if (response.status !== 200) throw new Error(`GET ${pathname} answered ${response.status}:\n${html.slice(0, 3000)}`);
      return html;
    }

    /** The login form, posted as `use:enhance` does; resolves with the action's result. */
    async function postLogin(client: CookieClient, username: string, password: string): Promise<unknown> {
      const response = await client.request(server.origin, '/login', { username, password }, { enhanced: true });
      const body = await response.text();
      if (response.status !== 200) throw new Error(`POST /login answered ${response.status}:\n${body.slice(0, 3000)}`);
      return JSON.parse(body);
    }

    /** Signs in with the form strategy; resolves once the home page shows the user. */
    async function signInWithPassword(client: CookieClient): Promise<void> {
      expect(await postLogin(client, 'ada', PASSWORD)).toEqual({ type: 'redirect', status: 307, location: '/' });
      expect(userOf(await page(client, '/'))).toBe('Ada Lovelace');
    }

    /**
     * GET /auth/oauth2 (autoRouting): the app keeps a state in the session and redirects to the
     * provider's authorization URL; resolves with that URL.
     */
    async function startOAuth(client: CookieClient): Promise<URL> {
      const response = await client.request(server.origin, '/auth/oauth2');
      expect(response.status).toBe(307);
      const authorize = new URL(response.headers.get('location') ?? '');
      expect(`${authorize.origin}${authorize.pathname}`).toBe(`${provider.url}/authorize`);
      expect(authorize.searchParams.get('client_id')).toBe(CLIENT_ID);
      expect(authorize.searchParams.get('response_type')).toBe('code');
      expect(authorize.searchParams.get('redirect_uri')).toBe(`${server.origin}/auth/oauth2/callback`);
      expect(authorize.searchParams.get('state')).toMatch(/^[0-9a-f]{20}$/);
      return authorize;
    }

    it('form strategy: the right password signs the user in, and they stay signed in', () =>
      withServerOutput(async () => {
        const client = new CookieClient();
        expect(userOf(await page(client, '/'))).toBeNull();
        await signInWithPassword(client);
        const home = await page(client, '/');
        expect(userOf(home)).toBe('Ada Lovelace');
        expect(strategyOf(home)).toBe('form');
        expect(client.names()).toContain('__sid');
        // Another visitor is not signed in.
        expect(userOf(await page(new CookieClient(), '/'))).toBeNull();
      }));

    it("form strategy: a wrong password redirects to the failure page, which shows the flashed auth:error once", () =>
      withServerOutput(async () => {
        const client = new CookieClient();
        expect(await postLogin(client, 'ada', 'wrong password')).toEqual({ type: 'redirect', status: 307, location: '/failure' });
        expect(authErrorOf(await page(client, '/failure'))).toBe('Invalid username or password.');
        // Shown once: a reload no longer shows it.
        expect(authErrorOf(await page(client, '/failure'))).toBeNull();
        expect(userOf(await page(client, '/'))).toBeNull();
      }));

    it('OAuth2 strategy: /auth/oauth2 -> the provider -> the callback -> the app shows the user', () =>
      withServerOutput(async () => {
        const client = new CookieClient();
        const before = provider.tokenRequests.length;
        const authorize = await startOAuth(client);

        // At the provider (another origin: the app's cookies are not sent there).
        const atProvider = await fetch(authorize, { redirect: 'manual' });
        expect(atProvider.status).toBe(302);
        const callback = new URL(atProvider.headers.get('location') ?? '');
        expect(`${callback.origin}${callback.pathname}`).toBe(`${server.origin}/auth/oauth2/callback`);
        expect(callback.searchParams.get('state')).toBe(authorize.searchParams.get('state'));

        const back = await client.request(server.origin, `${callback.pathname}${callback.search}`);
        expect({ status: back.status, location: back.headers.get('location') }).toEqual({ status: 307, location: '/' });
        // The app exchanged the code once, with its credentials.
        expect(provider.tokenRequests.slice(before)).toEqual([
          {
            ok: true,
            params: expect.objectContaining({ grant_type: 'authorization_code', client_id: CLIENT_ID, redirect_uri: `${server.origin}/auth/oauth2/callback` })
          }
        ]);

        const home = await page(client, '/');
        expect(userOf(home)).toBe('Grace Hopper');
        expect(strategyOf(home)).toBe('oauth2');
        expect(userOf(await page(client, '/'))).toBe('Grace Hopper');
        // Signed in, /auth/oauth2 sends the user straight to successRedirect.
        const again = await client.request(server.origin, '/auth/oauth2');
        expect({ status: again.status, location: again.headers.get('location') }).toEqual({ status: 307, location: '/' });
      }));

    it("OAuth2 strategy: a callback with a wrong state shows the flashed error once, and signs no one in", () =>
      withServerOutput(async () => {
        const client = new CookieClient();
        const before = provider.tokenRequests.length;
        await startOAuth(client);
        const response = await client.request(server.origin, '/auth/oauth2/callback?code=forged-code&state=0123456789abcdef0123');
        expect({ status: response.status, location: response.headers.get('location') }).toEqual({ status: 307, location: '/failure' });
        expect(provider.tokenRequests.length).toBe(before); // no code exchanged
        expect(authErrorOf(await page(client, '/failure'))).toBe("State doesn't match.");
        expect(authErrorOf(await page(client, '/failure'))).toBeNull();
        expect(userOf(await page(client, '/'))).toBeNull();
      }));

    it(
      adapter === 'memory'
        ? 'log-out (auth.logout(), i.e. session.destory()) ends the session: the user is gone, and the old cookie replayed does not bring them back'
        : 'log-out (auth.logout(), i.e. session.destory()) ends the session: the user is gone on the next page',
      () =>
        withServerOutput(async () => {
          const client = new CookieClient();
          await signInWithPassword(client);
          const oldCookie = client.header();

          const response = await client.request(server.origin, '/logout');
          const body = await response.text();
          expect({ status: response.status, location: response.headers.get('location'), body: response.status === 307 ? '' : body.slice(0, 300) }).toEqual({
            status: 307,
            location: '/',
            body: ''
          });
          // The session's cookies are expired (the jar drops them)...
          expect(client.names().filter((name) => name.startsWith('__sid'))).toEqual([]);
          // ...and the next page shows no user.
          expect(userOf(await page(client, '/'))).toBeNull();

          if (adapter === 'memory') {
            // The store's record is gone: a copy of the old cookie is an anonymous visitor.
            const replay = await fetch(`${server.origin}/`, { headers: { cookie: oldCookie }, redirect: 'manual' });
            expect(replay.status).toBe(200);
            expect(userOf(await replay.text())).toBeNull();
          }
          // (Cookie strategy: the old cookie carries the data and stays valid until it expires, as
          // the README documents; the browser's view above is what log-out promises there.)

          // Signing in again works after log-out.
          await signInWithPassword(client);
        })
    );

    it('destory() warns once per process (a second log-out prints no second warning)', () =>
      withServerOutput(async () => {
        for (let i = 0; i < 2; i++) {
          const client = new CookieClient();
          await signInWithPassword(client);
          const response = await client.request(server.origin, '/logout');
          expect(response.status).toBe(307);
        }
        const warnings = server.output().split('\n').filter((line) => /destory/.test(line));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/destroy\(\)/);
      }));
  });
});
