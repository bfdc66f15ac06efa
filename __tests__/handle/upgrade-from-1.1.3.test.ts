/**
 * Upgrading from @svelte-dev/session 1.1.3 (SPEC §11): a browser holding a session that the real
 * 1.1.3 package wrote keeps its data after the app upgrades, and the first response re-issues it
 * in the current format and expires the old cookies.
 *
 * The cookies come from 1.1.3 itself (the npm package, as the devDependency
 * old-svelte-dev-session), run as the fixture app's handle through SvelteKit's real cookie
 * handling; then the same browser's cookies go to this package's handleSession.
 */
import { jest } from '@jest/globals';
import type { Handle, RequestEvent } from '@sveltejs/kit';
import { Miniflare } from 'miniflare';
import * as v1 from '../../node_modules/old-svelte-dev-session/dist/index.js';
import { WebCryptoHmacSigner } from '../../src/services/web-crypto-hmac-signer.js';
import { Tokens } from '../../src/tokens.js';
import type { KVNamespaceLike } from '../../src/types.js';
import { ops, results, type Browser } from '../helpers/kit-app.js';
import { mapFunctions } from '../helpers/map-strategy.js';
import { SECRET, sessionApp, sessionCookies } from '../helpers/session-app.js';

const OLD_SECRET = 'the-secret-of-1.1.3-0123456789abcdefgh';
const COOKIE = { path: '/', httpOnly: true, sameSite: 'lax' as const, maxAge: 3600 };

/** Installs 1.1.3's own handleSession as the fixture app's handle and returns a browser for it. */
async function withVersion1(options: Record<string, unknown>, platform?: App.Platform): Promise<Browser> {
  const { app, browser } = await sessionApp();
  app.useHandle((v1 as unknown as { handleSession: (o: unknown) => Handle }).handleSession(options));
  app.usePlatform(platform);
  return browser();
}

/** The same browser's cookies, now sent to this package's handleSession. */
async function upgraded(
  from: Browser,
  options: Parameters<typeof sessionApp>[0],
  platform?: App.Platform,
  register?: Parameters<typeof sessionApp>[2]
): Promise<Browser> {
  const { browser } = await sessionApp(options, undefined, register, platform);
  const b = browser();
  for (const [name, value] of Object.entries(from.cookies())) b.setCookie(name, value);
  return b;
}

const legacyDataCookies = (b: Browser) => Object.keys(b.cookies()).filter((name) => /^[0-9a-f]{16}(\.\d+)?$/.test(name));

describe('sessions written by @svelte-dev/session 1.1.3', () => {
  it('keeps a cookie-strategy session, values and pending flash, and moves it to the current format', async () => {
    const old = await withVersion1({ adapter: { name: 'cookie' }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['set', 'user', { name: 'Ada', roles: ['admin'] }], ['flash', 'message', 'Welcome back'])}`);
    // What 1.1.3 left in the browser: __sid holding a signed {"id"} and the data in a cookie named by that id.
    expect(old.cookies().__sid).toMatch(/^[A-Za-z0-9+/=]+\.[A-Za-z0-9+/]{43}$/);
    const [dataCookie] = legacyDataCookies(old);
    expect(dataCookie).toBeDefined();

    const b = await upgraded(old, { adapter: { name: 'cookie' }, session: { secrets: [OLD_SECRET] }, cookie: { maxAge: 3600 } });
    const first = await b.get(`/page${ops(['get', 'user'], ['get', 'message'])}`);
    expect(await results(first)).toEqual([{ name: 'Ada', roles: ['admin'] }, 'Welcome back']);
    const sent = sessionCookies(first);
    expect(sent).toEqual([expect.stringMatching(/^__sid=1\./)]);
    expect(first.headers.getSetCookie()).toContainEqual(expect.stringMatching(new RegExp(`^${dataCookie}=; Max-Age=0`)));
    expect(legacyDataCookies(b)).toEqual([]);

    // The flash was read once; the values stay, now from the new cookie alone.
    const second = await b.get(`/page${ops(['get', 'user'], ['get', 'message'])}`);
    expect(await results(second)).toEqual([{ name: 'Ada', roles: ['admin'] }, null]);
  });

  it('reads them with the Web Crypto signer too (Workers), and runs session.validate on them', async () => {
    const old = await withVersion1({ adapter: { name: 'cookie' }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['set', 'user', 'ada'])}`);
    const shown: unknown[] = [];
    const options = { session: { secrets: [OLD_SECRET], validate: (session: { data: unknown }) => (shown.push(session.data), true) } };
    const web = await upgraded(old, options, undefined, (services) =>
      services.register(Tokens.Signer, { useValue: new WebCryptoHmacSigner({ secrets: [OLD_SECRET] }) })
    );
    expect(await results(await web.get(`/page${ops(['get', 'user'])}`))).toEqual(['ada']);
    expect(shown).toEqual([{ user: 'ada' }]);

    const refusing = await upgraded(old, { session: { secrets: [OLD_SECRET], validate: () => false } });
    expect(await results(await refusing.get(`/page${ops(['get', 'user'])}`))).toEqual([null]);
  });

  it('keeps a chunked 1.1.3 cookie session (chunk: true) and expires every old chunk', async () => {
    const cart = Array.from({ length: 120 }, (_, i) => ({ sku: `SKU-${i}`, name: `Item number ${i}` }));
    const old = await withVersion1({ adapter: { name: 'cookie', options: { chunk: true } }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['set', 'cart', cart])}`);
    const chunks = legacyDataCookies(old);
    expect(chunks.length).toBeGreaterThanOrEqual(2);

    const b = await upgraded(old, { adapter: { name: 'cookie', options: { chunk: true } }, session: { secrets: [OLD_SECRET] } });
    const first = await b.get(`/page${ops(['get', 'cart'])}`);
    expect(await results(first)).toEqual([cart]);
    for (const chunk of chunks) expect(first.headers.getSetCookie()).toContainEqual(expect.stringMatching(new RegExp(`^${chunk.replace('.', '\\.')}=; Max-Age=0`)));
    expect(Object.keys(b.cookies()).sort()).toEqual(['__sid', '__sid.1']);
    expect(await results(await b.get(`/page${ops(['get', 'cart'])}`))).toEqual([cart]);
  });

  it('ends, with an error logged and its cookies expired, a 1.1.3 session too big for the cookies it would now need', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
    const blob = Array.from({ length: 700 }, (_, i) => `item-${i}`).join(',');
    const old = await withVersion1({ adapter: { name: 'cookie', options: { chunk: true } }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['set', 'blob', blob])}`);
    const chunks = legacyDataCookies(old);
    expect(chunks.length).toBeGreaterThanOrEqual(3);

    const b = await upgraded(old, { adapter: { name: 'cookie', options: { chunk: true } }, session: { secrets: [OLD_SECRET] } });
    const response = await b.get(`/page${ops(['get', 'blob'])}`);
    expect(response.status).toBe(200);
    expect(await results(response)).toEqual([blob]); // this request still saw it
    expect(response.headers.getSetCookie().every((header) => /=; Max-Age=0/.test(header))).toBe(true);
    expect(b.cookies()).toEqual({});
    expect(String(error.mock.calls[0]?.[0])).toMatch(/written by 1\.1\.3 could not be moved.*over the 7168-byte cap/);
    expect((await b.get(`/page${ops(['get', 'blob'])}`)).status).toBe(200);
    error.mockRestore();
  });

  it('accepts a 1.1.3 cookie signed with a secret that is now the older one', async () => {
    const old = await withVersion1({ adapter: { name: 'cookie' }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['set', 'views', 7])}`);
    const b = await upgraded(old, { adapter: { name: 'cookie' }, session: { secrets: [SECRET, OLD_SECRET] } });
    expect(await results(await b.get(`/page${ops(['get', 'views'])}`))).toEqual([7]);
  });

  it('gives a fresh session, never an error, for 1.1.3 cookies signed with another secret or tampered with', async () => {
    const old = await withVersion1({ adapter: { name: 'cookie' }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['set', 'role', 'user'])}`);

    const other = await upgraded(old, { adapter: { name: 'cookie' }, session: { secrets: [SECRET] } });
    const refused = await other.get(`/page${ops(['get', 'role'])}`);
    expect(refused.status).toBe(200);
    expect(await results(refused)).toEqual([null]);

    const tampered = await upgraded(old, { adapter: { name: 'cookie' }, session: { secrets: [OLD_SECRET] } });
    const [dataCookie] = legacyDataCookies(old);
    const value = old.cookies()[dataCookie];
    const [data, signature] = value.split('.');
    const forged = Buffer.from(JSON.stringify({ role: 'admin' })).toString('base64');
    tampered.setCookie(dataCookie, `${forged}.${signature}`);
    expect(data).not.toBe(forged);
    const response = await tampered.get(`/page${ops(['get', 'role'])}`);
    expect(response.status).toBe(200);
    expect(await results(response)).toEqual([null]);
  });

  it('cleans up the empty session 1.1.3 gave every visitor: its cookies expire and nothing new is written', async () => {
    const old = await withVersion1({ adapter: { name: 'cookie' }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['get', 'anything'])}`);
    expect(Object.keys(old.cookies())).toHaveLength(2); // __sid and the (empty) data cookie

    const b = await upgraded(old, { adapter: { name: 'cookie' }, session: { secrets: [OLD_SECRET] } });
    const response = await b.get(`/page${ops(['get', 'anything'])}`);
    expect(response.headers.getSetCookie().every((header) => /=; Max-Age=0/.test(header))).toBe(true);
    expect(b.cookies()).toEqual({});
  });

  it("keeps a session of a store of the user's own (a 1.1.3-style per-request class), moving it to a new id", async () => {
    const rows = new Map<string, string>();
    /** Written as 1.1.3 documented: built per request with (event, options), over one shared table. */
    const table = mapFunctions(rows);
    class SharedStore {
      constructor(readonly event: RequestEvent, readonly options: unknown) {}
      createData(data: object) {
        return table.createData(data);
      }
      readData(id: string) {
        return table.readData(id);
      }
      updateData(id: string, data: object) {
        return table.updateData(id, data);
      }
      deleteData(id: string) {
        return table.deleteData(id);
      }
    }
    const old = await withVersion1({ adapter: { strategy: SharedStore }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['set', 'userId', 'u-42'])}`);
    const [oldId] = [...rows.keys()];
    expect(JSON.parse(rows.get(oldId)!)).toEqual({ userId: 'u-42' });

    const b = await upgraded(old, { adapter: { strategy: SharedStore }, session: { secrets: [OLD_SECRET] } });
    const response = await b.get(`/page${ops(['get', 'userId'])}`);
    expect(await results(response)).toEqual(['u-42']);
    expect(rows.has(oldId)).toBe(false);
    expect([...rows.values()].map((row) => JSON.parse(row))).toEqual([{ userId: 'u-42' }]);
    expect(await results(await b.get(`/page${ops(['get', 'userId'], ['id'])}`))).toEqual(['u-42', expect.not.stringMatching(oldId)]);

    // The old cookie, replayed, finds nothing: its record is gone.
    const replay = await upgraded(old, { adapter: { strategy: SharedStore }, session: { secrets: [OLD_SECRET] } });
    expect(await results(await replay.get(`/page${ops(['get', 'userId'])}`))).toEqual([null]);
  });

  describe('on Workers KV (Miniflare)', () => {
    let mf: Miniflare;
    let kv: KVNamespaceLike & { list(): Promise<{ keys: Array<{ name: string }> }> };
    beforeAll(async () => {
      mf = new Miniflare({ modules: true, script: 'export default { fetch() { return new Response(null); } }', kvNamespaces: ['SESSIONS'] });
      kv = (await mf.getKVNamespace('SESSIONS')) as unknown as typeof kv;
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    });

    it('keeps a session 1.1.3 kept under its bare id, moves it under the prefix and deletes the old key', async () => {
      const platform = { env: { SESSIONS: kv } } as unknown as App.Platform;
      const old = await withVersion1({ adapter: { name: 'cloudflare-kv', options: { namespace: 'SESSIONS' } }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE }, platform);
      await old.get(`/page${ops(['set', 'cart', ['tea']])}`);
      const [oldKey] = (await kv.list()).keys.map((k) => k.name);
      expect(oldKey).toMatch(/^[0-9a-f]{16}$/);

      const b = await upgraded(old, { adapter: { name: 'cloudflare-kv', options: { namespace: 'SESSIONS' } }, session: { secrets: [OLD_SECRET] } }, platform);
      expect(await results(await b.get(`/page${ops(['get', 'cart'])}`))).toEqual([['tea']]);
      const keys = (await kv.list()).keys.map((k) => k.name);
      expect(keys).toEqual([expect.stringMatching(/^sess:/)]);
      expect(await results(await b.get(`/page${ops(['get', 'cart'])}`))).toEqual([['tea']]);
    });
  });

  it('gives a fresh session for a 1.1.3 memory-store cookie (process memory does not survive the upgrade)', async () => {
    const old = await withVersion1({ adapter: { name: 'memory' }, session: { secrets: [OLD_SECRET] }, cookie: COOKIE });
    await old.get(`/page${ops(['set', 'a', 1])}`);
    const b = await upgraded(old, { adapter: { name: 'memory' }, session: { secrets: [OLD_SECRET] } });
    const response = await b.get(`/page${ops(['get', 'a'])}`);
    expect(response.status).toBe(200);
    expect(await results(response)).toEqual([null]);
  });
});
