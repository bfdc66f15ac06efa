import { MAX_DEPTH, parseRecord, sanitizeRecord, toJsonValue } from '../../src/services/json.js';

describe('toJsonValue()', () => {
  it('returns a deep copy as JSON keeps it', () => {
    const value = { a: [1, { b: 'c' }], d: new Date(0), e: undefined, f: null };
    const copy = toJsonValue(value, 'k') as Record<string, unknown>;
    expect(copy).toEqual({ a: [1, { b: 'c' }], d: '1970-01-01T00:00:00.000Z', f: null });
    (value.a[1] as { b: string }).b = 'changed';
    expect(copy).toEqual({ a: [1, { b: 'c' }], d: '1970-01-01T00:00:00.000Z', f: null });
  });

  it.each([
    ['a function', () => 1, /contains a function/],
    ['a symbol', Symbol('s'), /contains a symbol/],
    ['a BigInt', 10n, /contains a bigint/],
    ['NaN', Number.NaN, /the number NaN/],
    ['Infinity', Infinity, /the number Infinity/],
    ['a nested function', { deep: [{ f() {} }] }, /contains a function \(at cart\.deep\[0\]\.f\)/]
  ])('throws a TypeError naming the key for %s', (_case, value, message) => {
    expect(() => toJsonValue(value, 'cart')).toThrow(TypeError);
    expect(() => toJsonValue(value, 'cart')).toThrow(/Session value "cart"/);
    expect(() => toJsonValue(value, 'cart')).toThrow(message);
  });

  it('throws a TypeError for a cycle', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toJsonValue(cyclic, 'loop')).toThrow(/"loop".*circular reference/);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(toJsonValue({ a: shared, b: shared }, 'k')).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });

  it(`accepts values nested ${MAX_DEPTH} levels deep and refuses deeper ones (3,000 too) with a TypeError naming the key and the limit`, () => {
    const nested = (levels: number, leaf: unknown = 1) => {
      let value = leaf;
      for (let i = 0; i < levels; i++) value = i % 2 ? { a: value } : [value];
      return value;
    };
    expect(toJsonValue(nested(MAX_DEPTH), 'tree')).toEqual(nested(MAX_DEPTH));
    for (const levels of [MAX_DEPTH + 1, 3000]) {
      expect(() => toJsonValue(nested(levels), 'tree')).toThrow(TypeError);
      expect(() => toJsonValue(nested(levels), 'tree')).toThrow(new RegExp(`Session value "tree" cannot be stored: it is nested more than ${MAX_DEPTH} levels deep`));
    }
  });

  it('refuses __proto__ as a nested key', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}}');
    expect(() => toJsonValue(value, 'k')).toThrow(/the key "__proto__"/);
  });
});

describe('parseRecord()', () => {
  it.each(['null', '[]', '1', '"s"', '{', ''])('returns null for %j', (text) => {
    expect(parseRecord(text)).toBeNull();
  });

  it.each([
    '{"__proto__": {"polluted": true}}',
    '{"a": {"__proto__": {"polluted": true}}}',
    '{"__proto\\u005f_": {"polluted": true}}',
    '{"constructor": {"prototype": {"polluted": true}}}'
  ])('drops prototype keys at any depth: %s', (text) => {
    const record = parseRecord(text)!;
    const merged = Object.assign({}, record, record.a as object);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((merged as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(record)).not.toMatch(/proto|constructor|prototype/);
  });
});

describe('sanitizeRecord()', () => {
  it('removes own __proto__ keys from a store\'s object', () => {
    const record = sanitizeRecord(JSON.parse('{"ok": 1, "nested": {"__proto__": {"x": 1}}}'))!;
    expect(record).toEqual({ ok: 1, nested: {} });
    expect(Object.keys(record.nested as object)).toEqual([]);
  });

  it.each([[65], [200], [5000]])('removes them %i levels down too, in objects and arrays', (depth) => {
    const deep = (inner: string, open: string, close: string) => open.repeat(depth) + inner + close.repeat(depth);
    for (const text of [deep('{"__proto__":{"polluted":"yes"},"ok":1}', '{"a":', '}'), `{"a":${deep('{"constructor":{"prototype":{"polluted":1}}}', '[', ']')}}`]) {
      const record = sanitizeRecord(JSON.parse(text))!;
      // Every key at every depth, walked without recursion (JSON.stringify overflows at 5000).
      const keys = new Set<string>();
      const stack: unknown[] = [record];
      while (stack.length > 0) {
        const value = stack.pop();
        if (value === null || typeof value !== 'object') continue;
        for (const key of Object.keys(value)) {
          keys.add(key);
          stack.push((value as Record<string, unknown>)[key]);
        }
      }
      expect([...keys].filter((k) => k !== 'a' && !/^\d+$/.test(k)).sort()).toEqual(['ok'].slice(0, text.includes('"ok"') ? 1 : 0));
    }
  });

  it('ends on a store object with a cycle, deeper than the recursion goes', () => {
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < 100; i++) node = (node.a = {}) as Record<string, unknown>;
    node.loop = root;
    node.constructor = { bad: true } as never;
    const record = sanitizeRecord(root)!;
    expect(Object.hasOwn(node, 'constructor')).toBe(false);
    expect(record).toBe(root);
  });

  it('returns null for anything but a plain object', () => {
    expect(sanitizeRecord([1])).toBeNull();
    expect(sanitizeRecord('x')).toBeNull();
    expect(sanitizeRecord(null)).toBeNull();
  });
});
