/**
 * Bad client input (SPEC §4.5): every kind of broken session cookie gives a fresh, empty session,
 * never an exception or a 5xx, on both strategies, through real SvelteKit.
 */
import { randomBytes } from 'node:crypto';
import { createSessionContainer } from '../../src/container.js';
import { textToBase64url } from '../../src/services/base64url.js';
import { Tokens } from '../../src/tokens.js';
import type { CookieCodec, HandleSessionOptions, Signer } from '../../src/types.js';
import { MapStrategy } from '../helpers/map-strategy.js';
import { ops, results } from '../helpers/kit-app.js';
import { SECRET, sessionApp, sessionCookies } from '../helpers/session-app.js';

const adapters: Array<[string, HandleSessionOptions['adapter']]> = [
  ['cookie', { name: 'cookie', options: { chunk: true } }],
  ['memory', { name: 'memory' }]
];

describe.each(adapters)('bad session cookies: %s strategy', (_name, adapter) => {
  async function validCookie(): Promise<{ value: string; app: Awaited<ReturnType<typeof sessionApp>> }> {
    const app = await sessionApp({ adapter });
    const b = app.browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    return { value: b.cookies().__sid, app };
  }

  const cases: Array<[string, (valid: string) => Record<string, string> | string]> = [
    ['a malformed value', () => 'not-an-envelope'],
    ['an empty value', () => ''],
    ['a wrong signature', (v) => v.slice(0, -1) + (v.endsWith('A') ? 'B' : 'A')],
    ['a truncated value', (v) => v.slice(0, Math.floor(v.length / 2))],
    ['the signature cut off', (v) => v.slice(0, v.lastIndexOf('.'))],
    ['an unknown envelope version', (v) => '9' + v.slice(1)],
    ['random bytes (base64)', () => randomBytes(200).toString('base64')],
    ['random bytes (latin-1 escaped)', () => encodeURIComponent(randomBytes(64).toString('latin1'))],
    ['a 10 KB value', () => 'A'.repeat(10_240)],
    ['a 10 KB value shaped like an envelope', (v) => v.replace(/\.[^.]*\.[^.]*$/, `.${'A'.repeat(10_000)}.sig`)],
    ['broken percent-escapes', () => '%E0%A4%A%ZZ%'],
    ['a chunk marker with missing chunks', (v) => `~3~${v}`],
    ['a chunk marker with an absurd count', (v) => `~99~${v}`]
  ];

  it.each(cases)('%s gives a fresh session, not an error', async (_case, mutate) => {
    const { value, app } = await validCookie();
    const mutated = mutate(value);
    const response = await app.app.respond(
      new Request(`http://localhost/page${ops(['data'], ['id'], ['incr', 'n'])}`, {
        headers: { cookie: `other=1; __sid=${mutated}` }
      })
    );
    expect(response.status).toBe(200);
    expect(await results(response.clone())).toEqual([{}, '', 1]);
    expect(app.app.errors()).toEqual([]);
    // The next write mints a new session: the broken cookie is replaced.
    expect(sessionCookies(response)[0]).toMatch(/^__sid=1\./);
  });

  it('a cookie header with broken escapes elsewhere still reads the session', async () => {
    const { value, app } = await validCookie();
    const response = await app.app.respond(
      new Request(`http://localhost/page${ops(['get', 'a'])}`, { headers: { cookie: `bad=%E0%A4%A; __sid=${value}; x=%` } })
    );
    expect(await results(response)).toEqual([1]);
  });

  it('a validly signed envelope whose data carries __proto__ keys changes no prototype', async () => {
    const options: HandleSessionOptions = { adapter, session: { secrets: [SECRET] } };
    const codec = createSessionContainer(options).resolve<CookieCodec>(Tokens.CookieCodec);
    const payload = textToBase64url('{"__proto__":{"polluted":"yes"},"ok":1,"nested":{"__proto__":{"polluted":"yes"}},"constructor":{"prototype":{"polluted":"yes"}}}');
    const now = Math.floor(Date.now() / 1000) * 1000;
    const [cookie] = await codec.write({ id: 'AbCdEfGhIjKlMnOpQrStUvWx', created: now, expires: now + 3_600_000, payload });
    const { app } = await sessionApp({ adapter });
    const response = await app.respond(
      new Request(`http://localhost/page${ops(['data'], ['get', 'ok'], ['get', 'nested'])}`, { headers: { cookie: `__sid=${cookie.value}` } })
    );
    expect(response.status).toBe(200);
    const [data, ok, nested] = await results(response);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    if (adapter!.name === 'cookie') {
      expect(data).toEqual({ ok: 1, nested: {} });
      expect([ok, nested]).toEqual([1, {}]);
    } else {
      // The memory store does not know this id: it is never adopted.
      expect([data, ok]).toEqual([{}, null]);
    }
  });

  it('a flash key naming __proto__ (or constructor, prototype) in a signed cookie or a store record reaches no prototype of session.data', async () => {
    const hostile = { __flash___proto____: { polluted: 'yes' }, __flash_constructor__: { prototype: { polluted: 'yes' } }, __flash_prototype__: 1, ok: 1 };
    const probe = ops(['data'], ['get', 'ok'], ['has', '__proto__'], ['get', 'constructor']);
    const check = async (response: Response) => {
      expect(response.status).toBe(200);
      const [data, ok, has, ctor] = await results(response);
      expect(Object.prototype).not.toHaveProperty('polluted');
      return { data, ok, has, ctor };
    };
    if (adapter!.name === 'cookie') {
      const options: HandleSessionOptions = { adapter, session: { secrets: [SECRET] } };
      const codec = createSessionContainer(options).resolve<CookieCodec>(Tokens.CookieCodec);
      const now = Math.floor(Date.now() / 1000) * 1000;
      const [cookie] = await codec.write({ id: 'AbCdEfGhIjKlMnOpQrStUvWx', created: now, expires: now + 3_600_000, payload: textToBase64url(JSON.stringify(hostile)) });
      const { app } = await sessionApp({ adapter });
      const seen = await check(await app.respond(new Request(`http://localhost/page${probe}`, { headers: { cookie: `__sid=${cookie.value}` } })));
      expect(seen).toEqual({ data: { ok: 1 }, ok: 1, has: false, ctor: null });
    }
    // A store of the user's own that hands back such a record.
    const store = new MapStrategy();
    const { browser } = await sessionApp({ adapter: { strategy: store } });
    const b = browser();
    await b.get(`/page${ops(['set', 'ok', 1])}`);
    const [id] = [...store.rows.keys()];
    store.rows.set(id, JSON.stringify(hostile));
    expect(await check(await b.get(`/page${probe}`))).toEqual({ data: { ok: 1 }, ok: 1, has: false, ctor: null });
  });

  it('a validly signed id the store does not know is never adopted: the next write mints a new id', async () => {
    const options: HandleSessionOptions = { adapter, session: { secrets: [SECRET] } };
    const codec = createSessionContainer(options).resolve<CookieCodec>(Tokens.CookieCodec);
    const now = Math.floor(Date.now() / 1000) * 1000;
    const planted = 'PlantedByAnAttacker00000';
    const [cookie] = await codec.write({ id: planted, created: now, expires: now + 3_600_000, payload: '' });
    const { browser } = await sessionApp({ adapter });
    const victim = browser();
    victim.setCookie('__sid', cookie.value);
    const [, , id] = await results(await victim.get(`/page${ops(['set', 'user', 'victim'], ['save'], ['id'])}`));
    expect(id).not.toBe(planted);
    expect(victim.cookies().__sid).not.toContain(planted);
  });
});

describe('ids outside the id alphabet never reach a store', () => {
  /** A validly signed store envelope for `id`, written by hand: the codec itself refuses such ids. */
  async function signedEnvelope(id: string): Promise<string> {
    const signer = createSessionContainer({ session: { secrets: [SECRET] } }).resolve<Signer>(Tokens.Signer);
    const now = Math.floor(Date.now() / 1000);
    const signed = ['1', id, now.toString(36), (now + 3600).toString(36), ''].join('.');
    return `${signed}.${await signer.sign(`__sid=${signed}`)}`;
  }

  it.each([
    ['a path', '../../etc/passwd'],
    ['a glob', 'sess*'],
    ['a key separator', 'abc:def'],
    ['a NUL byte (escaped)', 'abc%00def'],
    ['non-ASCII', 'sessión'],
    ['129 characters', 'A'.repeat(129)]
  ])('%s, even validly signed, gives a fresh session and no store read', async (_case, id) => {
    const store = new MapStrategy();
    const reads: string[] = [];
    const readData = store.readData.bind(store);
    store.readData = async (asked: string) => (reads.push(asked), readData(asked));
    const { app } = await sessionApp({ adapter: { strategy: store } });
    const response = await app.respond(
      new Request(`http://localhost/page${ops(['data'], ['id'])}`, { headers: { cookie: `__sid=${await signedEnvelope(id)}` } })
    );
    expect(response.status).toBe(200);
    expect(await results(response)).toEqual([{}, '']);
    expect(reads).toEqual([]);
    expect(app.errors()).toEqual([]);
  });

  it('the same hand-written envelope with an id in the alphabet does reach the store (the check above can fail)', async () => {
    const store = new MapStrategy();
    store.rows.set('A'.repeat(24), JSON.stringify({ a: 1 }));
    const { app } = await sessionApp({ adapter: { strategy: store } });
    const response = await app.respond(
      new Request(`http://localhost/page${ops(['get', 'a'])}`, { headers: { cookie: `__sid=${await signedEnvelope('A'.repeat(24))}` } })
    );
    expect(await results(response)).toEqual([1]);
  });
});
