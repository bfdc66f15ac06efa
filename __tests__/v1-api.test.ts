/**
 * 1.1.3's public API, kept (SPEC §11): every name the real @svelte-dev/session 1.1.3 exports (its
 * own declarations, from the npm package aliased as old-svelte-dev-session) is exported by this
 * package's dist/, as a value where 1.1.3's is a value; every member of 1.1.3's SessionStorage is
 * a member of ours; and code written against 1.1.3's types compiles against ours
 * (__tests__/fixtures/v1-usage.ts, type-checked by package.test.ts's tsc run).
 */
import path from 'node:path';
import ts from 'typescript';

const root = path.join(import.meta.dirname, '..');
const v1Entry = path.join(root, 'node_modules/old-svelte-dev-session/dist/index.d.ts');
const ourEntry = path.join(root, 'dist/index.d.ts');

/** name -> whether it is a value (not only a type), as the compiler sees the module's exports. */
function exportsOf(entry: string): Map<string, { value: boolean; members: string[] }> {
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const out = new Map<string, { value: boolean; members: string[] }>();
  for (const symbol of checker.getExportsOfModule(module)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const value = (target.flags & ts.SymbolFlags.Value) !== 0;
    let members: string[] = [];
    if (target.flags & ts.SymbolFlags.Class) {
      const instance = checker.getDeclaredTypeOfSymbol(target);
      members = checker.getPropertiesOfType(instance).map((p) => p.getName()).filter((n) => !n.startsWith('#') && !n.startsWith('__#'));
    }
    out.set(symbol.getName(), { value, members });
  }
  return out;
}

describe("1.1.3's exports", () => {
  const v1 = exportsOf(v1Entry);
  const ours = exportsOf(ourEntry);

  it('are read from 1.1.3 itself (a sanity check of this test)', () => {
    expect([...v1.keys()]).toEqual(expect.arrayContaining(['handleSession', 'SessionStorage', 'Session', 'CookieStrategy', 'SessionStorageOptions', 'SessionOptions']));
  });

  it.each([...exportsOf(v1Entry)].map(([name, info]) => [name, info.value ? 'value' : 'type']))('%s (a %s) is exported, as the same kind', (name) => {
    const mine = ours.get(name);
    expect(mine).toBeDefined();
    if (v1.get(name)!.value) expect(mine!.value).toBe(true);
  });

  it('every member of 1.1.3 SessionStorage and Session is a member of ours', () => {
    for (const cls of ['SessionStorage', 'Session']) {
      const missing = v1.get(cls)!.members.filter((member) => !ours.get(cls)!.members.includes(member));
      expect({ cls, missing }).toEqual({ cls, missing: [] });
    }
    expect(v1.get('SessionStorage')!.members).toEqual(expect.arrayContaining(['destory', 'sid', 'updateSid', 'init']));
  });

  it('the values are there at run time too', async () => {
    const entry = await import(path.join(root, 'dist/index.js'));
    for (const [name, info] of v1) if (info.value) expect(entry[name]).toBeDefined();
    expect(entry.CookieStrategy).toBe(entry.CookieSessionStrategy);
  });
});
