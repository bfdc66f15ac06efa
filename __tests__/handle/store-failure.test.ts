/**
 * A failing store (SPEC §4.6): the request fails with 503 and the SessionStoreError (with cause)
 * is reported; the session is never treated as empty; the same handle recovers when the store
 * does. The store here is a double, because the store is not what is under test: the handle is.
 */
import { jest } from '@jest/globals';
import { SessionStoreError } from '../../src/errors.js';
import { MemoryStrategy } from '../../src/strategies/memory-strategy.js';
import { Tokens } from '../../src/tokens.js';
import { FakeClock, SequentialIds } from '../helpers/fakes.js';
import { ops, results } from '../helpers/kit-app.js';
import { sessionApp } from '../helpers/session-app.js';

/** A memory store that can be switched off, as a store whose server went down. */
class FlakyStore extends MemoryStrategy {
  down = false;
  constructor() {
    super({}, new FakeClock(), new SequentialIds());
  }
  override async readData(id: string) {
    if (this.down) throw new Error('ECONNREFUSED');
    return super.readData(id);
  }
  override async createData(data: Record<string, unknown>, expires?: Date) {
    if (this.down) throw new Error('ECONNREFUSED');
    return super.createData(data, expires);
  }
  override async applyChanges(id: string, changes: ReadonlyMap<string, unknown>, expires?: Date) {
    if (this.down) throw new Error('ECONNREFUSED');
    return super.applyChanges(id, changes, expires);
  }
}

describe('a failing store', () => {
  let logged: jest.SpiedFunction<typeof console.error>;
  beforeEach(() => {
    logged = jest.spyOn(console, 'error').mockImplementation(() => {});
  });
  afterEach(() => logged.mockRestore());

  /** An app on a FlakyStore, with one browser whose session holds a = 1. */
  async function withSession() {
    const store = new FlakyStore();
    const { browser } = await sessionApp({ adapter: { name: 'memory' } }, undefined, (services) =>
      services.register(Tokens.Strategy, { useValue: store })
    );
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    return { store, browser, b };
  }

  it('fails the request with 503 on read and on write, logs a SessionStoreError with cause, and recovers', async () => {
    const { store, browser, b } = await withSession();

    store.down = true;
    const read = await b.get(`/page${ops(['get', 'a'])}`);
    expect(read.status).toBe(503);
    const fresh = browser();
    const write = await fresh.get(`/api${ops(['set', 'x', 1])}`);
    expect(write.status).toBe(503);
    expect(write.headers.getSetCookie()).toEqual([]);

    const error = logged.mock.calls[0][0] as SessionStoreError;
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(error.status).toBe(503);
    expect((error.cause as Error).message).toBe('ECONNREFUSED');
    expect(error.message).toMatch(/failed to read a session: ECONNREFUSED/);

    store.down = false;
    expect(await results(await b.get(`/page${ops(['get', 'a'])}`))).toEqual([1]);
  });

  it('a data request gets a 503 JSON answer, not an empty session', async () => {
    const { store, b } = await withSession();
    store.down = true;
    const response = await b.get(`/page/__data.json${ops(['get', 'a'])}`);
    expect(response.status).toBe(503);
    expect(await response.text()).not.toMatch(/"a"/);
  });
});
