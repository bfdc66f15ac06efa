/**
 * SPEC: "It runs inside workerd. The built package, bundled into a Worker script, handles
 * requests inside Miniflare with the cookie strategy and with the KV strategy. That is the Web
 * Crypto path, without nodejs_compat."
 *
 * The Worker (__tests__/fixtures/worker/entry.js, bundled by ../helpers/worker-bundle.ts) serves
 * the SvelteKit fixture app's built server output with `handleSession` from dist/. One Miniflare
 * runs it as three Workers, told apart by host name (Miniflare routes) and configured by vars:
 *   cookie.test   ADAPTER=cookie
 *   kv.test       ADAPTER=cloudflare-kv, KV_NAMESPACE=SESSIONS, with a KV namespace SESSIONS
 *   unbound.test  ADAPTER=cloudflare-kv, KV_NAMESPACE=UNBOUND_SESSIONS, with no KV binding at all
 *   sealed.test   ADAPTER=cookie, ENCRYPT=true
 *
 * Why `modules: [{ type: 'ESModule', path }]` instead of `modules: true, scriptPath`: with
 * `scriptPath`, Miniflare walks the script's imports with acorn before workerd starts and refuses
 * any it cannot place (ERR_MODULE_RULE for `import("node:async_hooks")`, ERR_MODULE_DYNAMIC_SPEC
 * for `import(module_name)`). Svelte and Kit contain exactly such dynamic imports, each guarded by
 * a try/catch or `.catch`, so that they fail softly where Node's modules do not exist. Listing the
 * module skips the walk and leaves the verdict to workerd, as on Cloudflare.
 */
import { Miniflare, type WorkerOptions } from 'miniflare';
import { handleSession } from '../../src/handle.js';
import { createSessionContainer } from '../../src/container.js';
import { HmacSigner } from '../../src/services/hmac-signer.js';
import { Tokens } from '../../src/tokens.js';
import { loadKitApp, ops, results } from '../helpers/kit-app.js';
import { bundleWorker, packageInputs, type WorkerBundle } from '../helpers/worker-bundle.js';

const SECRET = 'workerd-test-secret-0123456789abcdef-xyz';
/** workerd 1.20250718 (miniflare 3.20250718) accepts compatibility dates up to 2025-07-18. */
const COMPATIBILITY_DATE = '2025-07-01';
const COOKIE_HOST = 'cookie.test';
const KV_HOST = 'kv.test';
const UNBOUND_HOST = 'unbound.test';
const SEALED_HOST = 'sealed.test';

let bundle: WorkerBundle;
let mf: Miniflare;
let workers: WorkerOptions[];

function worker(name: string, host: string, bindings: Record<string, string>, kvNamespaces: string[]): WorkerOptions {
  return {
    name,
    routes: [`${host}/*`],
    modulesRoot: bundle.dir,
    modules: [{ type: 'ESModule', path: bundle.file }],
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: [], // no nodejs_compat: the Web Crypto path
    bindings: { SESSION_SECRET: SECRET, ...bindings },
    kvNamespaces
  };
}

beforeAll(async () => {
  bundle = await bundleWorker();
  workers = [
    worker('cookie', COOKIE_HOST, { ADAPTER: 'cookie' }, []),
    worker('kv', KV_HOST, { ADAPTER: 'cloudflare-kv', KV_NAMESPACE: 'SESSIONS' }, ['SESSIONS']),
    worker('kv-unbound', UNBOUND_HOST, { ADAPTER: 'cloudflare-kv', KV_NAMESPACE: 'UNBOUND_SESSIONS' }, []),
    worker('sealed', SEALED_HOST, { ADAPTER: 'cookie', ENCRYPT: 'true' }, [])
  ];
  mf = new Miniflare({ workers });
  await mf.ready;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await bundle?.dispose();
});

type MfResponse = Awaited<ReturnType<Miniflare['dispatchFetch']>>;

/** A GET into workerd, carrying `cookie` (a `name=value` pair) if given. */
function get(host: string, pathAndQuery: string, cookie?: string): Promise<MfResponse> {
  return mf.dispatchFetch(`http://${host}${pathAndQuery}`, { headers: cookie ? { cookie } : {} });
}

/** The `__sid=<value>` pair a response sets, or `undefined` if it sets none. */
function sessionCookie(response: { headers: Headers | MfResponse['headers'] }): string | undefined {
  const header = response.headers.getSetCookie().find((h) => h.startsWith('__sid='));
  return header?.split(';')[0];
}

/** The session cookie after a response: the new one, or the old one when none was set. */
function keep(cookie: string | undefined, response: MfResponse): string | undefined {
  return sessionCookie(response) ?? cookie;
}

async function resultsOf(response: MfResponse): Promise<unknown[]> {
  return results(response as unknown as Response);
}

/** `value` contains `key: expected` somewhere (the KV record's exact shape is the strategy's). */
function holds(value: unknown, key: string, expected: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  if ((value as Record<string, unknown>)[key] === expected) return true;
  return Object.values(value).some((v) => holds(v, key, expected));
}

describe('inside workerd (Miniflare), without nodejs_compat', () => {
  it('the package runs on the Web Crypto path: no node:crypto, no process, no Buffer', async () => {
    const response = await get(COOKIE_HOST, '/__worker/runtime');
    expect(await response.json()).toEqual({
      nodeCrypto: expect.stringMatching(/^refused: /),
      signer: 'WebCryptoHmacSigner',
      cipher: 'WebCryptoAesGcmCipher',
      process: 'undefined',
      getBuiltinModule: 'undefined',
      Buffer: 'undefined'
    });
  });

  describe('cookie strategy', () => {
    it('keeps a counter across requests carrying the returned cookie', async () => {
      let cookie: string | undefined;
      for (const expected of [1, 2, 3]) {
        const response = await get(COOKIE_HOST, `/page${ops(['incr', 'n'])}`, cookie);
        expect(response.status).toBe(200);
        expect(await resultsOf(response)).toEqual([expected]);
        expect(sessionCookie(response)).toMatch(/^__sid=1\./);
        cookie = keep(cookie, response);
      }
      const response = await get(COOKIE_HOST, `/api${ops(['get', 'n'])}`, cookie);
      expect(await resultsOf(response)).toEqual([3]);
    });

    it('gives a tampered cookie a fresh session, not an error', async () => {
      const first = await get(COOKIE_HOST, `/page${ops(['set', 'n', 1])}`);
      const cookie = sessionCookie(first)!;
      // 1.<id>.<created>.<expires>.<data>.<signature>: the client raises its own counter.
      const parts = cookie.slice('__sid='.length).split('.');
      expect(parts).toHaveLength(6);
      parts[4] = Buffer.from(JSON.stringify({ n: 99 })).toString('base64url');
      const tampered = `__sid=${parts.join('.')}`;

      const read = await get(COOKIE_HOST, `/page${ops(['get', 'n'], ['id'])}`, tampered);
      expect(read.status).toBe(200);
      expect(await resultsOf(read)).toEqual([null, '']);

      const write = await get(COOKIE_HOST, `/page${ops(['incr', 'n'])}`, tampered);
      expect(write.status).toBe(200);
      expect(await resultsOf(write)).toEqual([1]);
      expect(sessionCookie(write)).not.toBe(tampered);

      const errors = await (await get(COOKIE_HOST, '/__worker/errors')).json();
      expect(errors).toEqual([]);
    });

    it('writes the same envelope as Node: workerd (Web Crypto) and Node (node:crypto) accept each other', async () => {
      // The Node side is the in-process fixture with handleSession from src/ and the same
      // secret, on node:crypto (HmacSigner); workerd signed with WebCryptoHmacSigner.
      expect(createSessionContainer({ session: { secrets: [SECRET] } }).resolve(Tokens.Signer)).toBeInstanceOf(HmacSigner);
      const app = await loadKitApp();
      app.useHandle(handleSession({ adapter: { name: 'cookie' }, session: { key: '__sid', secrets: [SECRET] } }));
      app.clearErrors();

      let cookie: string | undefined;
      for (let i = 0; i < 3; i++) cookie = keep(cookie, await get(COOKIE_HOST, `/page${ops(['incr', 'n'])}`, cookie));

      const inNode = await app.respond(new Request(`http://localhost/page${ops(['get', 'n'], ['incr', 'n'])}`, { headers: { cookie: cookie! } }));
      expect(inNode.status).toBe(200);
      expect(await results(inNode)).toEqual([3, 4]);
      const fromNode = sessionCookie(inNode);
      expect(fromNode).toMatch(/^__sid=1\./);
      expect(app.errors()).toEqual([]);

      // And back: workerd accepts the cookie Node signed.
      const back = await get(COOKIE_HOST, `/page${ops(['get', 'n'])}`, fromNode);
      expect(await resultsOf(back)).toEqual([4]);

      // The other secret is refused on both sides: the signature really is checked.
      app.useHandle(handleSession({ adapter: { name: 'cookie' }, session: { key: '__sid', secrets: ['another-secret-0123456789abcdef-xyz'] } }));
      const refused = await app.respond(new Request(`http://localhost/page${ops(['get', 'n'])}`, { headers: { cookie: cookie! } }));
      expect(await results(refused)).toEqual([null]);
      app.useHandle(undefined);
    });
  });

  describe('cookie strategy with encrypt: true', () => {
    it('seals with Web Crypto AES-256-GCM: the counter works, the cookie hides it, and Node (node:crypto) opens it and back', async () => {
      let cookie: string | undefined;
      for (const expected of [1, 2]) {
        const response = await get(SEALED_HOST, `/page${ops(['incr', 'n'], ['set', 'who', 'ada-lovelace'])}`, cookie);
        expect(await resultsOf(response)).toEqual([expected, null]);
        cookie = keep(cookie, response);
      }
      const payload = cookie!.slice('__sid='.length).split('.')[4];
      expect(payload).toMatch(/^A/);
      expect(Buffer.from(payload, 'base64url').toString('latin1')).not.toContain('ada-lovelace');

      const app = await loadKitApp();
      app.useHandle(handleSession({ adapter: { name: 'cookie', options: { encrypt: true } }, session: { key: '__sid', secrets: [SECRET] } }));
      app.clearErrors();
      const inNode = await app.respond(new Request(`http://localhost/page${ops(['get', 'who'], ['incr', 'n'])}`, { headers: { cookie: cookie! } }));
      expect(await results(inNode)).toEqual(['ada-lovelace', 3]);
      expect(app.errors()).toEqual([]);
      const back = await get(SEALED_HOST, `/page${ops(['get', 'n'])}`, sessionCookie(inNode));
      expect(await resultsOf(back)).toEqual([3]);
      app.useHandle(undefined);

      const errors = await (await get(SEALED_HOST, '/__worker/errors')).json();
      expect(errors).toEqual([]);
    });
  });

  describe('cloudflare-kv strategy', () => {
    it('keeps a counter in one sess:<id> record, and a destroyed session leaves no record', async () => {
      // Typed by hand: Miniflare's own type for it needs @cloudflare/workers-types.
      const kv = (await mf.getKVNamespace('SESSIONS', 'kv')) as unknown as {
        list(): Promise<{ keys: Array<{ name: string }> }>;
        get(key: string): Promise<string | null>;
      };
      expect((await kv.list()).keys).toEqual([]);

      let cookie: string | undefined;
      for (const expected of [1, 2, 3]) {
        const response = await get(KV_HOST, `/page${ops(['incr', 'n'])}`, cookie);
        expect(response.status).toBe(200);
        expect(await resultsOf(response)).toEqual([expected]);
        cookie = keep(cookie, response);
      }
      expect(cookie).toMatch(/^__sid=/);

      const [id] = (await resultsOf(await get(KV_HOST, `/api${ops(['id'])}`, cookie))) as [string];
      expect(id).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
      const { keys } = await kv.list();
      expect(keys.map((k) => k.name)).toEqual([`sess:${id}`]);
      const record: unknown = JSON.parse((await kv.get(`sess:${id}`))!);
      expect(holds(record, 'n', 3)).toBe(true);
      // The data is on the server: the cookie carries no counter.
      expect(cookie).not.toContain(Buffer.from('{"n":3}').toString('base64url'));

      const destroyed = await get(KV_HOST, `/page${ops(['destroy'])}`, cookie);
      expect(destroyed.status).toBe(200);
      expect((await kv.list()).keys).toEqual([]);

      // The old cookie, replayed, finds nothing and writes nothing back.
      const replay = await get(KV_HOST, `/page${ops(['get', 'n'])}`, cookie);
      expect(replay.status).toBe(200);
      expect(await resultsOf(replay)).toEqual([null]);
      expect((await kv.list()).keys).toEqual([]);

      expect(await (await get(KV_HOST, '/__worker/errors')).json()).toEqual([]);
    });

    it('fails, naming the binding, in a Worker that has no such KV binding', async () => {
      const response = await get(UNBOUND_HOST, `/page${ops(['incr', 'n'])}`);
      expect(response.status).toBeGreaterThanOrEqual(500);
      // Kit keeps an unexpected error's message from the client: the body is generic ...
      expect(await response.text()).not.toContain('UNBOUND_SESSIONS');
      // ... and hands the error to the app's handleError (where an app logs it): that one names
      // the binding. The fixture's handleError records instead of logging; the Worker shows it.
      const recorded = (await (await get(UNBOUND_HOST, '/__worker/errors')).json()) as Array<{ status: number; error: { name: string; message: string } }>;
      expect(recorded).toEqual([
        expect.objectContaining({ status: response.status, error: expect.objectContaining({ name: expect.stringMatching(/^Session(Config|Store)Error$/) }) })
      ]);
      expect(JSON.stringify(recorded[0].error)).toContain('UNBOUND_SESSIONS');
    });
  });

  describe('what makes it the Web Crypto path', () => {
    it('the bundle has no node: import from the package or its dependencies', () => {
      const ours = packageInputs(bundle.metafile);
      expect(ours).toEqual(expect.arrayContaining(['dist/index.js', 'dist/container.js', 'dist/services/web-crypto-hmac-signer.js']));
      // nanoid's default build imports node:crypto; the Worker conditions pick its browser build.
      expect(ours).toContain('node_modules/nanoid/index.browser.js');
      expect(ours).not.toContain('node_modules/nanoid/index.js');
      expect(bundle.nodeImports.filter((i) => ours.includes(i.importer))).toEqual([]);

      // The node: imports that remain are Svelte's and Kit's own guarded dynamic imports.
      for (const i of bundle.nodeImports) {
        expect(i).toEqual({
          importer: expect.stringMatching(/^(node_modules\/@sveltejs\/kit\/|node_modules\/svelte\/|__tests__\/fixtures\/kit-app\/\.svelte-kit\/output\/server\/)/),
          path: expect.stringMatching(/^node:/),
          kind: 'dynamic-import'
        });
      }
    });

    it('no Worker in the Miniflare config has nodejs_compat', () => {
      expect(workers).toHaveLength(4);
      for (const w of workers) expect(w.compatibilityFlags).toEqual([]);
      expect(JSON.stringify(workers)).not.toMatch(/nodejs/);
    });
  });
});
