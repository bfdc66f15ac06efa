/**
 * Ending sessions the server cannot simply delete, and all of one user's sessions at once
 * (issue 6, item 4), through real SvelteKit:
 * - `session.validate`: the app's check of every session a request brings; with it a cookie
 *   session is revoked by a per-user epoch or by a list of ended ids;
 * - `session.userId` and `destroyUserSessions(userId)`: stores that index sessions by user end
 *   them all (memory, Redis, a user's own store).
 */
import { jest } from '@jest/globals';
import type { Handle } from '@sveltejs/kit';
import { SessionConfigError } from '../../src/errors.js';
import { handleSession } from '../../src/handle.js';
import { createCustomStrategy } from '../../src/strategies/custom-strategy.js';
import { RedisStrategy } from '../../src/strategies/redis-strategy.js';
import type { SessionData, HandleSessionOptions, SessionToValidate } from '../../src/types.js';
import { ops, results } from '../helpers/kit-app.js';
import { closeClient, connectIoredis, describeRedis, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { mapFunctions } from '../helpers/map-strategy.js';
import { sessionApp, sessionCookies } from '../helpers/session-app.js';

type User = { id: string; epoch: number };
const userOf = (data: SessionData) => (data.user as User | undefined)?.id;

describe('session.validate', () => {
  it('revokes cookie sessions with a per-user epoch: raising it ends every earlier session of that user, replayed cookies too', async () => {
    const epochs = new Map<string, number>([['ada', 1]]);
    const validate = ({ data }: SessionToValidate) => {
      const user = data.user as User | undefined;
      return !user || user.epoch === epochs.get(user.id);
    };
    const { browser, app } = await sessionApp({ adapter: { name: 'cookie' }, session: { validate } });
    const [laptop, phone] = [browser(), browser()];
    for (const b of [laptop, phone]) await b.get(`/page${ops(['set', 'user', { id: 'ada', epoch: 1 }])}`);
    const stolen = phone.cookies().__sid;
    expect(await results(await laptop.get(`/page${ops(['get', 'user'])}`))).toEqual([{ id: 'ada', epoch: 1 }]);

    epochs.set('ada', 2); // "log out everywhere", or a password change
    const refused = await phone.get(`/page${ops(['get', 'user'], ['id'])}`);
    expect(refused.status).toBe(200);
    expect(await results(refused)).toEqual([null, '']);
    expect(sessionCookies(refused)).toEqual([expect.stringMatching(/^__sid=; Max-Age=0/)]);
    expect(await results(await laptop.get(`/page${ops(['get', 'user'])}`))).toEqual([null]);

    const replay = browser();
    replay.setCookie('__sid', stolen);
    expect(await results(await replay.get(`/page${ops(['get', 'user'])}`))).toEqual([null]);

    // A new log-in under the new epoch works.
    await laptop.get(`/page${ops(['set', 'user', { id: 'ada', epoch: 2 }])}`);
    expect(await results(await laptop.get(`/page${ops(['get', 'user'])}`))).toEqual([{ id: 'ada', epoch: 2 }]);
    expect(app.errors()).toEqual([]);
  });

  it('revokes one cookie session at log-out with a list of ended ids: the cookie replayed after destroy() is refused', async () => {
    const ended = new Map<string, Date>(); // id -> when it would have expired anyway (forget it then)
    const validate = ({ id }: SessionToValidate) => !ended.has(id);
    const logOut: Handle = async ({ event, resolve }) => {
      if (event.url.searchParams.has('logout')) {
        const { session } = event.locals;
        ended.set(session.id, new Date(Date.now() + 86_400_000));
        await session.destroy();
      }
      return resolve(event);
    };
    const { browser } = await sessionApp({ adapter: { name: 'cookie' }, session: { validate } }, logOut);
    const b = browser();
    await b.get(`/page${ops(['set', 'user', 'ada'])}`);
    const before = b.cookies().__sid;
    await b.get('/page?logout');
    expect(b.cookies().__sid).toBeUndefined();

    const replay = browser();
    replay.setCookie('__sid', before);
    expect(await results(await replay.get(`/page${ops(['get', 'user'], ['id'])}`))).toEqual([null, '']);
    // Without the hook the same cookie is still good: that is what the list is for.
    const plain = (await sessionApp({ adapter: { name: 'cookie' } })).browser();
    plain.setCookie('__sid', before);
    expect(await results(await plain.get(`/page${ops(['get', 'user'])}`))).toEqual(['ada']);
  });

  it("deletes a refused session's record from the store", async () => {
    let allow = true;
    const { browser } = await sessionApp({ adapter: { name: 'memory' }, session: { validate: () => allow } });
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    const cookie = b.cookies().__sid;
    allow = false;
    expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
    allow = true;
    const again = browser();
    again.setCookie('__sid', cookie);
    // The record is gone: allowing it again brings nothing back.
    expect(await results(await again.get(`/page${ops(['get', 'a'], ['id'])}`))).toEqual([null, '']);
  });

  it('is shown id, created, expires and the values, is not called without a session, and does not consume flash values', async () => {
    const seen: SessionToValidate[] = [];
    const validate = jest.fn(async (session: SessionToValidate) => {
      seen.push(session);
      return true;
    });
    const { browser, clock } = await sessionApp({ adapter: { name: 'memory' }, session: { validate }, cookie: { maxAge: 600 } });
    const b = browser();
    await b.get('/nothing');
    expect(validate).not.toHaveBeenCalled();
    const created = clock.now();
    await b.get(`/page${ops(['set', 'a', 1], ['flash', 'notice', 'saved'])}`);
    const [id] = (await results(await b.get(`/page${ops(['id'])}`))) as [string];
    expect(seen[0]).toEqual({ id, created: new Date(created), expires: new Date(created + 600_000), data: { a: 1 } });
    expect(await results(await b.get(`/page${ops(['get', 'notice'])}`))).toEqual(['saved']);
  });

  it('anything but true ends the session (a validate that forgets to return fails closed)', async () => {
    const { browser } = await sessionApp({ adapter: { name: 'cookie' }, session: { validate: (() => undefined) as never } });
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([null]);
  });

  it('an error it throws fails the request as it is, not as a store failure', async () => {
    const { browser, app } = await sessionApp({
      adapter: { name: 'cookie' },
      session: {
        validate: () => {
          throw new Error('users database down');
        }
      }
    });
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    app.clearErrors();
    const response = await b.get(`/page${ops(['get', 'a'])}`);
    expect(response.status).toBe(500);
    expect((app.errors()[0].error as Error).message).toBe('users database down');
  });

  it('must be a function', () => {
    expect(() => handleSession({ session: { validate: true as never } })).toThrow(/`session.validate` must be a function/);
  });
});

/** Three sessions of ada (three browsers), one of bob; returns the browsers. */
async function logIns(browser: () => ReturnType<Awaited<ReturnType<typeof sessionApp>>['browser']>) {
  const ada = [browser(), browser(), browser()];
  for (const b of ada) {
    await b.get(`/page${ops(['set', 'cart', [1]])}`);
    await b.get(`/page${ops(['regenerate'], ['set', 'user', { id: 'ada', epoch: 0 }])}`);
  }
  const bob = browser();
  await bob.get(`/page${ops(['set', 'user', { id: 'bob', epoch: 0 }])}`);
  return { ada, bob };
}

const userIdOption: HandleSessionOptions['session'] = { userId: userOf };

describe('destroyUserSessions(userId) with session.userId', () => {
  it('memory: ends every session of one user, replayed cookies included, and leaves other users alone', async () => {
    const { browser, handle } = await sessionApp({ adapter: { name: 'memory' }, session: userIdOption });
    const { ada, bob } = await logIns(browser);
    const copies = ada.map((b) => b.cookies().__sid);

    expect(await handle.destroyUserSessions('ada')).toBe(3);
    for (const b of ada) expect(await results(await b.get(`/page${ops(['get', 'user'], ['id'])}`))).toEqual([null, '']);
    for (const cookie of copies) {
      const replay = browser();
      replay.setCookie('__sid', cookie);
      expect(await results(await replay.get(`/page${ops(['get', 'cart'])}`))).toEqual([null]);
    }
    expect(await results(await bob.get(`/page${ops(['get', 'user'])}`))).toEqual([{ id: 'bob', epoch: 0 }]);
    expect(await handle.destroyUserSessions('ada')).toBe(0);
  });

  it('leaves a session alone whose data names another user by now', async () => {
    const { browser, handle } = await sessionApp({ adapter: { name: 'memory' }, session: userIdOption });
    const shared = browser();
    await shared.get(`/page${ops(['set', 'user', { id: 'ada', epoch: 0 }])}`);
    await shared.get(`/page${ops(['set', 'user', { id: 'bob', epoch: 0 }])}`); // no regenerate: same id
    expect(await handle.destroyUserSessions('ada')).toBe(0);
    expect(await results(await shared.get(`/page${ops(['get', 'user'])}`))).toEqual([{ id: 'bob', epoch: 0 }]);
    expect(await handle.destroyUserSessions('bob')).toBe(1);
  });

  it("a user's own store takes part through addUserSession() and takeUserSessions()", async () => {
    const rows = new Map<string, string>();
    const index = new Map<string, Set<string>>();
    let next = 0;
    const strategy = createCustomStrategy({
      ...mapFunctions(rows, () => `row${next++}-${'x'.repeat(22)}`),
      async addUserSession(user, id) {
        index.set(user, (index.get(user) ?? new Set()).add(id));
      },
      async takeUserSessions(user) {
        const ids = [...(index.get(user) ?? [])];
        index.delete(user);
        return ids;
      }
    });
    const { browser, handle } = await sessionApp({ adapter: { strategy }, session: userIdOption });
    await logIns(browser);
    expect(index.get('ada')?.size).toBe(3);
    expect(await handle.destroyUserSessions('ada')).toBe(3);
    expect([...rows.values()].map((row) => JSON.parse(row).user.id)).toEqual(['bob']);
  });

  it('is refused where the store cannot index by user, naming what can', () => {
    for (const adapter of [{ name: 'cookie' }, { name: 'cloudflare-kv', options: { namespace: 'SESSIONS' } }] as const) {
      expect(() => handleSession({ adapter, session: userIdOption })).toThrow(SessionConfigError);
      expect(() => handleSession({ adapter, session: userIdOption })).toThrow(/'memory' and 'redis'.*session\.validate and a per-user epoch/);
    }
  });

  it('needs session.userId', async () => {
    const handle = handleSession({ adapter: { name: 'memory' } });
    await expect(handle.destroyUserSessions('ada')).rejects.toThrow(/needs `session.userId`/);
    expect(() => handleSession({ session: { userId: 'user' as never } })).toThrow(/`session.userId` must be a function/);
  });
});

describeRedis('destroyUserSessions(userId) on Redis', () => {
  let server: RedisServer;
  let client: Awaited<ReturnType<typeof connectIoredis>>;
  beforeAll(async () => {
    server = await startRedis();
    client = await connectIoredis(server);
  }, 30_000);
  afterAll(async () => {
    closeClient(client);
    await server?.stop();
  });

  it('ends every session of one user, keeps the others, and leaves no index behind', async () => {
    const { browser, handle } = await sessionApp({ adapter: { name: 'redis', options: { client } }, session: userIdOption });
    const { ada, bob } = await logIns(browser);
    expect(await client.smembers('sess:user:ada')).toHaveLength(3);
    const copies = ada.map((b) => b.cookies().__sid);

    expect(await handle.destroyUserSessions('ada')).toBe(3);
    expect(await client.exists('sess:user:ada')).toBe(0);
    for (const cookie of copies) {
      const replay = browser();
      replay.setCookie('__sid', cookie);
      expect(await results(await replay.get(`/page${ops(['get', 'user'], ['id'])}`))).toEqual([null, '']);
    }
    expect(await results(await bob.get(`/page${ops(['get', 'user'])}`))).toEqual([{ id: 'bob', epoch: 0 }]);
    expect(await client.smembers('sess:user:bob')).toHaveLength(1);
  });

  it("drops ended sessions from a user's index at the next log-in", async () => {
    const strategy = new RedisStrategy({ client, prefix: 'prune:' });
    const { browser } = await sessionApp({ adapter: { strategy }, session: userIdOption });
    const first = browser();
    await first.get(`/page${ops(['set', 'user', { id: 'cy', epoch: 0 }])}`);
    await first.get(`/page${ops(['destroy'])}`);
    const second = browser();
    await second.get(`/page${ops(['set', 'user', { id: 'cy', epoch: 0 }])}`);
    const [id] = (await results(await second.get(`/page${ops(['id'])}`))) as [string];
    expect(await client.smembers('prune:user:cy')).toEqual([id]);
  });
});
