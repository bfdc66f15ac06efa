import { MemoryStrategy } from '../../src/strategies/memory-strategy.js';
import { SessionConfigError } from '../../src/errors.js';
import { FakeClock, SequentialIds } from '../helpers/fakes.js';

const make = (options = {}) => {
  const clock = new FakeClock();
  const strategy = new MemoryStrategy(options, clock, new SequentialIds());
  return { clock, strategy };
};
const inSeconds = (clock: FakeClock, s: number) => new Date(clock.now() + s * 1000);

describe('MemoryStrategy', () => {
  let strategies: MemoryStrategy[] = [];
  const track = (m: ReturnType<typeof make>) => (strategies.push(m.strategy), m);
  afterEach(() => {
    strategies.forEach((s) => s.dispose());
    strategies = [];
  });

  it('indexing a log-in under session.userId checks a bounded number of indexed sessions, however many the user has', async () => {
    class CountingClock extends FakeClock {
      reads = 0;
      override now(): number {
        this.reads++;
        return super.now();
      }
    }
    const clock = new CountingClock();
    const strategy = new MemoryStrategy({}, clock, new SequentialIds());
    strategies.push(strategy);
    for (let i = 0; i < 3000; i++) await strategy.addUserSession('u', await strategy.createData({ u: 'u' }, inSeconds(clock, 60)), inSeconds(clock, 60));
    clock.advance(120); // every one of them has ended
    const id = await strategy.createData({ u: 'u' }, inSeconds(clock, 600));
    clock.reads = 0;
    await strategy.addUserSession('u', id, inSeconds(clock, 600));
    expect(clock.reads).toBeLessThanOrEqual(20);
    // Ended ones are still dropped, a batch per log-in, and all of them by the sweep.
    strategy.sweep();
    expect(await strategy.takeUserSessions('u')).toEqual([id]);
  });

  it('keeps copies: changing an object after createData() or readData() does not change the store', async () => {
    const { strategy } = track(make());
    const cart = { items: ['a'] };
    const id = await strategy.createData({ cart });
    cart.items.push('b');
    const read = (await strategy.readData(id))!;
    expect(read).toEqual({ cart: { items: ['a'] } });
    (read.cart as { items: string[] }).items.push('c');
    await expect(strategy.readData(id)).resolves.toEqual({ cart: { items: ['a'] } });
  });

  it('forgets a record at its expiry', async () => {
    const { strategy, clock } = track(make());
    const id = await strategy.createData({ a: 1 }, inSeconds(clock, 10));
    clock.advance(9);
    await expect(strategy.readData(id)).resolves.toEqual({ a: 1 });
    clock.advance(1);
    await expect(strategy.readData(id)).resolves.toBeNull();
  });

  it('reclaims expired records that are never read again, on the next write', async () => {
    const { strategy, clock } = track(make());
    for (let i = 0; i < 100; i++) await strategy.createData({ i }, inSeconds(clock, 60));
    expect(strategy.size).toBe(100);
    clock.advance(61);
    await strategy.createData({ fresh: true }, inSeconds(clock, 60));
    expect(strategy.size).toBe(1);
  });

  it('reclaims expired records with no traffic at all, by its sweep', async () => {
    const { strategy, clock } = track(make());
    await strategy.createData({ long: true }, inSeconds(clock, 3600));
    await strategy.createData({ short: true }, inSeconds(clock, 5));
    clock.advance(6);
    strategy.sweep();
    expect(strategy.size).toBe(1);
  });

  it('bounds the count with max, dropping the least recently written', async () => {
    const { strategy } = track(make({ max: 2 }));
    const a = await strategy.createData({ n: 'a' });
    const b = await strategy.createData({ n: 'b' });
    await strategy.updateData(a, { n: 'a2' });
    await strategy.createData({ n: 'c' });
    expect(strategy.size).toBe(2);
    await expect(strategy.readData(b)).resolves.toBeNull();
    await expect(strategy.readData(a)).resolves.toEqual({ n: 'a2' });
  });

  it('rejects a wrong max with a SessionConfigError naming the option', () => {
    expect(() => make({ max: 0 })).toThrow(SessionConfigError);
    expect(() => make({ max: 1.5 })).toThrow(/adapter\.options\.max/);
  });

  describe('applyChanges()', () => {
    it('keeps both changes of two concurrent requests that change different keys', async () => {
      const { strategy } = track(make());
      const id = await strategy.createData({ a: 0, b: 0 });
      await Promise.all([
        strategy.applyChanges(id, new Map([['a', 1]])),
        strategy.applyChanges(id, new Map([['b', 2]]))
      ]);
      await expect(strategy.readData(id)).resolves.toEqual({ a: 1, b: 2 });
    });

    it('returns false and writes nothing for a destroyed record: it cannot come back', async () => {
      const { strategy } = track(make());
      const id = await strategy.createData({ a: 0 });
      await strategy.deleteData(id);
      await expect(strategy.applyChanges(id, new Map([['a', 1]]))).resolves.toBe(false);
      await expect(strategy.readData(id)).resolves.toBeNull();
      expect(strategy.size).toBe(0);
    });

    it('removes keys changed to undefined and moves the expiry', async () => {
      const { strategy, clock } = track(make());
      const id = await strategy.createData({ a: 1, b: 2 }, inSeconds(clock, 10));
      await strategy.applyChanges(id, new Map([['a', undefined]]), inSeconds(clock, 100));
      clock.advance(50);
      await expect(strategy.readData(id)).resolves.toEqual({ b: 2 });
    });
  });
});
