/** Replacing services through the container, the way a user (or a test) does. */
import { container as root } from 'tsyringe';
import { createSessionContainer } from '../src/container.js';
import { HmacSigner } from '../src/services/hmac-signer.js';
import { SystemClock } from '../src/services/clock.js';
import { CookieSessionStrategy } from '../src/strategies/cookie-session-strategy.js';
import { MemoryStrategy } from '../src/strategies/memory-strategy.js';
import { Tokens } from '../src/tokens.js';
import { SessionEngine } from '../src/session-engine.js';
import { SessionStorage } from '../src/session.js';
import type { RequestEvent } from '@sveltejs/kit';
import type { HandleSessionOptions, SignatureCheck, Signer } from '../src/types.js';
import { FakeClock } from './helpers/fakes.js';
import { MapStrategy } from './helpers/map-strategy.js';
import { ops, results } from './helpers/kit-app.js';
import { SECRET, sessionApp, sessionCookies } from './helpers/session-app.js';

/** A Signer double: signs with a fixed marker, verifies only that marker. */
class MarkerSigner implements Signer {
  signed = 0;
  async sign(): Promise<string> {
    this.signed++;
    return 'M'.repeat(43);
  }
  async verify(_data: string, signature: string): Promise<SignatureCheck> {
    return signature === 'M'.repeat(43) ? 'valid' : 'invalid';
  }
}

describe('createSessionContainer()', () => {
  it('gives each call its own child container and registers nothing globally', () => {
    const a = createSessionContainer({ adapter: { name: 'memory' }, session: { secrets: [SECRET] } });
    const b = createSessionContainer({ adapter: { name: 'memory' }, session: { secrets: [SECRET] } });
    expect(a.resolve(Tokens.Strategy)).toBeInstanceOf(MemoryStrategy);
    expect(a.resolve(Tokens.Strategy)).toBe(a.resolve(Tokens.Strategy));
    expect(a.resolve(Tokens.Strategy)).not.toBe(b.resolve(Tokens.Strategy));
    expect(root.isRegistered(Tokens.Strategy)).toBe(false);
    expect(root.isRegistered(Tokens.Signer)).toBe(false);
  });

  it('defaults to HmacSigner, SystemClock and the cookie strategy', () => {
    const c = createSessionContainer({ session: { secrets: [SECRET] } });
    expect(c.resolve(Tokens.Signer)).toBeInstanceOf(HmacSigner);
    expect(c.resolve(Tokens.Clock)).toBeInstanceOf(SystemClock);
    expect(c.resolve(Tokens.Strategy)).toBeInstanceOf(CookieSessionStrategy);
  });
});

describe('overriding services through the container', () => {
  it('a Signer registered on the container signs every cookie', async () => {
    const signer = new MarkerSigner();
    const { browser } = await sessionApp({}, undefined, (services) => services.register(Tokens.Signer, { useValue: signer }));
    const b = browser();
    const response = await b.get(`/page${ops(['set', 'a', 1])}`);
    expect(sessionCookies(response)[0]).toMatch(/^__sid=1\.[^;]*\.M{43};/);
    expect(signer.signed).toBe(1);
    expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
  });

  it('a Clock registered on the container decides expiry', async () => {
    const clock = new FakeClock();
    const { browser } = await sessionApp({ cookie: { maxAge: 10 } }, undefined, (services) =>
      services.register(Tokens.Clock, { useValue: clock })
    );
    const b = browser();
    // sessionApp registered its own clock first; the test's registration replaces it.
    await b.get(`/page${ops(['set', 'a', 1])}`);
    clock.advance(11);
    expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
  });

  it('a Strategy registered on the container keeps the data (a user store, subclassing BaseStrategy without decorators)', async () => {
    const store = new MapStrategy();
    const { browser } = await sessionApp({}, undefined, (services) => services.register(Tokens.Strategy, { useValue: store }));
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    expect([...store.rows.values()]).toEqual(['{"a":1}']);
    await b.get(`/page${ops(['set', 'b', 2])}`);
    expect([...store.rows.values()]).toEqual(['{"a":1,"b":2}']);
    await b.get(`/page${ops(['destroy'])}`);
    expect(store.rows.size).toBe(0);
  });
});

describe('SessionEngine.open()', () => {
  const event = () => ({ locals: {}, url: new URL('http://localhost/') }) as unknown as RequestEvent;
  const cookieOf = async (options: HandleSessionOptions) => {
    const engine = createSessionContainer(options).resolve(SessionEngine);
    const session = await engine.open(event(), {});
    await session.set('n', 1);
    const [cookie] = await session.commit();
    return { engine, cookies: { [cookie.name]: cookie.value } };
  };

  it('opens a cookie-strategy session at once, without a promise (node:crypto)', async () => {
    const { engine, cookies } = await cookieOf({ session: { secrets: [SECRET] } });
    const opened = engine.open(event(), cookies);
    expect(opened).toBeInstanceOf(SessionStorage);
    expect((opened as SessionStorage).get('n')).toBe(1);
  });

  it('opens a memory-store session at once, without a promise (node:crypto)', async () => {
    const { engine, cookies } = await cookieOf({ adapter: { name: 'memory' }, session: { secrets: [SECRET] } });
    const opened = engine.open(event(), cookies);
    expect(opened).toBeInstanceOf(SessionStorage);
    expect((opened as SessionStorage).get('n')).toBe(1);
  });

  it('opens the session of a store that answers later with a promise', async () => {
    const { engine, cookies } = await cookieOf({ adapter: { strategy: new MapStrategy() }, session: { secrets: [SECRET] } });
    const opened = engine.open(event(), cookies);
    expect(opened).toBeInstanceOf(Promise);
    expect((await opened).get('n')).toBe(1);
  });

  it("reads a MemoryStrategy subclass through its own readData()", async () => {
    const reads: string[] = [];
    class Watched extends MemoryStrategy {
      override async readData(id: string) {
        reads.push(id);
        return super.readData(id);
      }
    }
    const services = root.createChildContainer();
    services.register(Tokens.Strategy, { useValue: new Watched({}, new SystemClock(), { generate: () => 'x'.repeat(24) }) });
    const { engine, cookies } = await cookieOf({ container: services, adapter: { name: 'memory' }, session: { secrets: [SECRET] } });
    const opened = await engine.open(event(), cookies);
    expect(opened.get('n')).toBe(1);
    expect(reads).toEqual(['x'.repeat(24)]);
  });
});
