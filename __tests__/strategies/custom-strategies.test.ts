/**
 * Users' own stores (SPEC §7) in the three forms, checked with the exported conformance suite and
 * through handleSession in a real SvelteKit app.
 */
import type { RequestEvent } from '@sveltejs/kit';
import { strategyConformance } from '../../src/conformance.js';
import { SessionConfigError } from '../../src/errors.js';
import { handleSession } from '../../src/handle.js';
import { createCustomStrategy, PerRequestStrategy } from '../../src/strategies/custom-strategy.js';
import { MemoryStrategy } from '../../src/strategies/memory-strategy.js';
import type { SessionStorageStrategy } from '../../src/types.js';
import { FakeClock } from '../helpers/fakes.js';
import { MapStrategy, mapFunctions } from '../helpers/map-strategy.js';
import { NanoidGenerator } from '../../src/services/id-generator.js';
import { ops, results } from '../helpers/kit-app.js';
import { SECRET, sessionApp } from '../helpers/session-app.js';

const newId = () => crypto.randomUUID().replaceAll('-', '');

/** Form 1: a BaseStrategy subclass written without decorators: MapStrategy (helpers). */

/** Form 2: createCustomStrategy over four functions. */
function functionsStrategy() {
  return createCustomStrategy(mapFunctions(new Map(), newId));
}

/** Form 3: a class written like the seed README's example: built per request with (event, options). */
const shared = new Map<string, string>();
class SeedStyleStrategy implements SessionStorageStrategy {
  constructor(
    readonly event: RequestEvent,
    readonly options: { prefix: string }
  ) {}
  async createData(data: object) {
    const id = newId();
    shared.set(this.options.prefix + id, JSON.stringify(data));
    return id;
  }
  async readData(id: string) {
    const row = shared.get(this.options.prefix + id);
    return row ? JSON.parse(row) : null;
  }
  async updateData(id: string, data: object) {
    if (!shared.has(this.options.prefix + id)) return false;
    shared.set(this.options.prefix + id, JSON.stringify(data));
    return true;
  }
  async deleteData(id: string) {
    shared.delete(this.options.prefix + id);
  }
}

strategyConformance('MemoryStrategy', () => new MemoryStrategy({}, new FakeClock(Date.now()), new NanoidGenerator()));
strategyConformance('a BaseStrategy subclass without decorators', () => new MapStrategy());
strategyConformance('createCustomStrategy()', () => functionsStrategy());
strategyConformance('a per-request class (event, options)', () => new PerRequestStrategy(SeedStyleStrategy, { prefix: 'sess:' }), {
  context: () => ({ event: { url: new URL('http://localhost/') } as RequestEvent })
});

describe('adapter.strategy through handleSession', () => {
  it.each([
    ['a BaseStrategy instance', () => ({ strategy: new MapStrategy() })],
    ['createCustomStrategy()', () => ({ strategy: functionsStrategy() })],
    ['a per-request class with options', () => ({ strategy: SeedStyleStrategy, options: { prefix: 'app:' } })]
  ])('keeps sessions with %s', async (_form, adapter) => {
    const { browser } = await sessionApp({ adapter: adapter() });
    const b = browser();
    await b.get(`/page${ops(['set', 'a', 1])}`);
    expect(await results(await b.get(`/page${ops(['incr', 'a'], ['data'])}`))).toEqual([2, { a: 2 }]);
    await b.get(`/page${ops(['destroy'])}`);
    expect(await results(await b.get(`/page${ops(['data'])}`))).toEqual([{}]);
  });

  it('refuses a strategy missing a method, naming it', () => {
    const broken = { createData: async () => 'x', readData: async () => null } as unknown as SessionStorageStrategy;
    expect(() => handleSession({ adapter: { strategy: broken }, session: { secrets: [SECRET] } })).toThrow(SessionConfigError);
    expect(() => handleSession({ adapter: { strategy: broken }, session: { secrets: [SECRET] } })).toThrow(/lacks updateData\(\), deleteData\(\)/);
  });
});
