/**
 * The package as users get it: the tarball `npm pack` makes (its `prepack` build included), checked
 * with publint and Are the Types Wrong, then installed from that tarball into a fresh SvelteKit app
 * (the demo's sources) on SvelteKit 2 with Node 20 and on SvelteKit 3 with Node 22, built with
 * adapter-node and served as a real server.
 *
 * The first run installs and builds both apps (minutes); later runs reuse them while the tarball,
 * the demo's sources and the pinned versions are unchanged (see helpers/user-app.ts).
 */
import { execFile } from 'node:child_process';
import { builtinModules, createRequire } from 'node:module';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publint } from 'publint';
import ts from 'typescript';
import { CookieClient, startApp, withOutputOf, type AppServer } from '../helpers/demo-server.js';
import { freePort } from '../helpers/system-service.js';
import { packPackage, prepareUserApp, ROOT, runInApp, type KitMajor, type UserApp } from '../helpers/user-app.js';

const ATTW = path.join(ROOT, 'node_modules', '.bin', 'attw');

/**
 * attw's options. The package is ESM-only (`"type": "module"`, `import`-only `exports`), like
 * SvelteKit itself, so `--profile esm-only`: it leaves out the `node10` and `node16-cjs` resolution
 * modes, i.e. CommonJS `require()` and TypeScript's legacy `moduleResolution: node10`, neither of
 * which a SvelteKit app uses. The `node16` (from ESM) and `bundler` modes keep every rule. Chosen
 * over `--ignore-rules cjs-resolves-to-esm`, which leaves `node10` in: there the `./conformance`
 * subpath cannot resolve (node10 does not read `exports`), which only a `typesVersions` shim for
 * a resolution mode no SvelteKit user has would silence.
 */
const ATTW_ARGS = ['--profile', 'esm-only', '--no-color', '--no-emoji', '--format', 'table'];

interface Result {
  code: number;
  output: string;
}

/** Runs a command with Jest's NODE_OPTIONS removed; resolves with its exit code and output. */
function runCommand(command: string, args: string[], cwd = ROOT): Promise<Result> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}${err && typeof err.code !== 'number' ? String(err) : ''}` });
    });
  });
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Bare specifiers of a module's imports, re-exports and dynamic imports (comments ignored). */
function bareImports(source: string): string[] {
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return importedFiles.map((file) => file.fileName).filter((name) => !name.startsWith('.') && !name.startsWith('/'));
}

function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

describe('the packed tarball', () => {
  let tarball: string;
  let files: string[];
  /** The tarball unpacked: <unpacked>/package/... */
  let unpacked: string;

  beforeAll(async () => {
    tarball = await packPackage();
    const list = await runCommand('tar', ['-tzf', tarball]);
    if (list.code !== 0) throw new Error(`tar -tzf ${tarball} failed:\n${list.output}`);
    files = list.output.split('\n').filter(Boolean).map((name) => name.replace(/^package\//, ''));
    unpacked = tempDir('session-unpacked-');
    const extract = await runCommand('tar', ['-xzf', tarball, '-C', unpacked]);
    if (extract.code !== 0) throw new Error(`tar -xzf ${tarball} failed:\n${extract.output}`);
  }, 5 * 60_000);

  it('holds dist/ (JavaScript and declarations for both entry points) and the README, not the sources, tests or examples', () => {
    for (const name of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/conformance.js', 'dist/conformance.d.ts']) {
      expect(files).toContain(name);
    }
    // Everything else at the top: the documents the README links to, and the licence.
    expect(files.filter((name) => !name.startsWith('dist/')).sort()).toEqual(
      ['CHANGELOG.md', 'LICENSE', 'MIGRATING.md', 'README.md', 'SECURITY.md', 'package.json'].sort()
    );
    // Every module comes with its declarations.
    for (const js of files.filter((name) => name.startsWith('dist/') && name.endsWith('.js'))) {
      expect(files).toContain(js.replace(/\.js$/, '.d.ts'));
    }
    expect(files.filter((name) => /^(src|__tests__|examples|scripts|node_modules|\.ci)\//.test(name))).toEqual([]);
    expect(files.filter((name) => name.endsWith('.map') || name.endsWith('.ts') && !name.endsWith('.d.ts'))).toEqual([]);
  });

  it('is Apache-2.0, as 1.1.3 was, and ships the licence text', () => {
    const manifest = JSON.parse(readFileSync(path.join(unpacked, 'package', 'package.json'), 'utf8'));
    expect(manifest.license).toBe('Apache-2.0');
    const licence = readFileSync(path.join(unpacked, 'package', 'LICENSE'), 'utf8');
    expect(licence).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(licence).toMatch(/END OF TERMS AND CONDITIONS/);
    for (const field of ['repository', 'homepage', 'bugs', 'engines']) expect(manifest[field]).toBeDefined();
    expect(manifest.sideEffects).toBe(true); // index.js loads reflect-metadata, and decorators run at import
  });

  it('has no publint messages (strict)', async () => {
    const data = readFileSync(tarball);
    const arrayBuffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    const { messages } = await publint({ pack: { tarball: arrayBuffer }, strict: true });
    expect(messages).toEqual([]);
  });

  it('has no Are-the-Types-Wrong problem (attw --profile esm-only)', async () => {
    const { code, output } = await runCommand(ATTW, [tarball, ...ATTW_ARGS]);
    if (code !== 0) throw new Error(`attw found problems in ${path.basename(tarball)} (exit ${code}):\n${output}`);
    // It did analyse both entry points in the modes that count.
    expect(output).toMatch(/"@svelte-dev\/session\/conformance"/);
    expect(output).toMatch(/node16 \(from ESM\)[^\n]*OK \(ESM\)[^\n]*OK \(ESM\)/);
    expect(output).toMatch(/bundler[^\n]*OK[^\n]*OK/);
  }, 120_000);

  it('would fail the attw check on a real type problem (exports["."].types pointing at a missing file)', async () => {
    // A broken copy of the tarball: the root entry's declarations point at a file that is not there.
    const broken = tempDir('session-broken-');
    cpSync(path.join(unpacked, 'package'), path.join(broken, 'package'), { recursive: true });
    const manifestPath = path.join(broken, 'package', 'package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.exports['.'].types = './dist/missing.d.ts';
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
    const brokenTarball = path.join(broken, 'broken.tgz');
    const pack = await runCommand('tar', ['-czf', brokenTarball, '-C', broken, 'package']);
    if (pack.code !== 0) throw new Error(`tar -czf failed:\n${pack.output}`);

    const { code, output } = await runCommand(ATTW, [brokenTarball, ...ATTW_ARGS]);
    expect({ code, output }).toEqual({ code: 1, output: expect.stringMatching(/node16 \(from ESM\)[^\n]*(Used fallback condition|Resolution failed|No types|Untyped)/) });
  }, 120_000);

  it('declares every package its JavaScript imports (dependencies or peerDependencies)', () => {
    const manifest = JSON.parse(readFileSync(path.join(unpacked, 'package', 'package.json'), 'utf8'));
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const undeclared: string[] = [];
    const imported = new Set<string>();
    for (const js of files.filter((name) => name.startsWith('dist/') && name.endsWith('.js'))) {
      for (const specifier of bareImports(readFileSync(path.join(unpacked, 'package', js), 'utf8'))) {
        if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
        const name = packageNameOf(specifier);
        imported.add(name);
        if (!declared.has(name)) undeclared.push(`${js}: ${specifier}`);
      }
    }
    expect(undeclared).toEqual([]);
    // The scan did find the imports (so an empty list above means something).
    expect([...imported].sort()).toEqual(expect.arrayContaining(['@sveltejs/kit', 'cookie', 'tsyringe']));
  });
});

/** The visit counter of the demo's home page. */
function viewsOf(html: string): number {
  const match = /id="views"[^>]*>(?:<!--[^>]*-->)*\s*(\d+)/.exec(html);
  if (!match) throw new Error(`no visit counter in the page:\n${html.slice(0, 2000)}`);
  return Number(match[1]);
}

function majorOf(version: string): number {
  return Number(/^v?(\d+)/.exec(version)?.[1]);
}

const EXPECTED: Record<KitMajor, { kit: RegExp; node: (version: string) => boolean; nodeText: string }> = {
  2: { kit: /^2\./, node: (v) => v === process.version, nodeText: `this process's Node (${process.version})` },
  3: {
    kit: /^3\./,
    node: (v) => {
      const [major, minor] = v.replace(/^v/, '').split('.').map(Number);
      return major === 22 && minor >= 17;
    },
    nodeText: 'Node 22.17 or later 22.x'
  }
};

describe.each([2, 3] as const)('a SvelteKit %i app with the package installed from the tarball', (kit) => {
  let app: UserApp;
  let server: AppServer;

  beforeAll(async () => {
    app = await prepareUserApp(kit);
    server = await startApp({ dir: app.dir, node: app.node });
  }, 25 * 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  /** Runs `fn`, adding the server's output to a failure. */
  const withServerOutput = (fn: () => Promise<void>) => withOutputOf(server, fn);

  it(`is built with and served by SvelteKit ${kit} on ${EXPECTED[kit].nodeText}`, async () => {
    const kitManifest = JSON.parse(readFileSync(path.join(app.dir, 'node_modules', '@sveltejs', 'kit', 'package.json'), 'utf8'));
    expect(kitManifest.version).toMatch(EXPECTED[kit].kit);
    const nodeVersion = (await runInApp(app, ['--version'])).trim();
    expect(majorOf(nodeVersion)).toBeGreaterThan(0);
    if (!EXPECTED[kit].node(nodeVersion)) throw new Error(`the app's Node is ${nodeVersion}, expected ${EXPECTED[kit].nodeText}`);
    // adapter-node's output: the server the tests start.
    expect(existsSync(path.join(app.dir, 'build', 'index.js'))).toBe(true);
  });

  it('has @svelte-dev/session from the tarball: a copy in node_modules, not a link to this repository', () => {
    const installed = path.join(app.dir, 'node_modules', '@svelte-dev', 'session');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
    const ours = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(manifest.version).toBe(ours.version);
    expect(readdirSync(installed).sort()).toEqual(['CHANGELOG.md', 'LICENSE', 'MIGRATING.md', 'README.md', 'SECURITY.md', 'dist', 'package.json']);
    const appManifest = JSON.parse(readFileSync(path.join(app.dir, 'package.json'), 'utf8'));
    expect(appManifest.dependencies['@svelte-dev/session']).toMatch(/^file:\.\/.*\.tgz$/);
    // Its dependencies (and its peer, Kit) resolve inside the app, where Node looks first from the
    // installed package, not from this repository's node_modules further up.
    const lookup = createRequire(path.join(installed, 'dist', 'index.js'));
    const needed = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})];
    expect(needed).toEqual(expect.arrayContaining(['cookie', 'tsyringe', '@sveltejs/kit']));
    for (const name of needed) {
      const found = (lookup.resolve.paths(name) ?? []).find((dir) => existsSync(path.join(dir, name, 'package.json')));
      expect({ name, found: found && path.relative(app.dir, found) }).toEqual({ name, found: expect.stringMatching(/^node_modules(\/@svelte-dev\/session\/node_modules)?$/) });
    }
  });

  it('keeps a session across requests: the visit counter goes 1, 2, 3', () =>
    withServerOutput(async () => {
      const client = new CookieClient();
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await client.request(server.origin, '/');
        expect(response.status).toBe(200);
        counts.push(viewsOf(await response.text()));
      }
      expect(counts).toEqual([1, 2, 3]);
      expect(client.names()).toContain('__sid');
      // Another visitor starts at 1: the count lives in the session, not in the server.
      expect(viewsOf(await (await new CookieClient().request(server.origin, '/')).text())).toBe(1);
    }));

  // The sign-in form uses `use:enhance`, so a browser posts it with `accept: application/json` and
  // `x-sveltekit-action: true`, and Kit answers the action's redirect as JSON. adapter-node 6
  // (Kit 3) no longer reads ORIGIN and takes requests as https://<host> unless PROTOCOL_HEADER or
  // `paths.origin` say otherwise, so the Origin sent is the one each server takes its requests as,
  // as a browser at that address would send (Kit 3's CSRF check refuses http://localhost: 403).
  it('signs in through the enhanced form action: regenerate(), a flash message, a redirect, the new cookie', () =>
    withServerOutput(async () => {
      const selfOrigin = kit === 2 ? server.origin : server.origin.replace(/^http:/, 'https:');
      const client = new CookieClient();
      const send = (pathname: string, form?: Record<string, string>) =>
        client.request(server.origin, pathname, form, { enhanced: true, as: selfOrigin });

      expect(viewsOf(await (await send('/')).text())).toBe(1);
      const before = client.get('__sid');
      const response = await send('/login', { name: 'Ada' });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ type: 'redirect', status: 303, location: '/' });
      expect(response.headers.getSetCookie().some((line) => line.startsWith('__sid='))).toBe(true);
      expect(client.get('__sid')).not.toBe(before);
      const home = await (await send('/')).text();
      expect(home).toMatch(/Signed in as <strong>Ada<\/strong>/);
      expect(home).toMatch(/Welcome, Ada!/);
      expect(viewsOf(home)).toBe(2);
      // The flash is gone on the next page; the user stays signed in.
      const next = await (await send('/')).text();
      expect(next).not.toMatch(/Welcome, Ada!/);
      expect(next).toMatch(/Signed in as <strong>Ada<\/strong>/);
      expect(viewsOf(next)).toBe(3);
    }));

  it("reads the server's environment: a server with another SESSION_SECRET refuses the first one's cookie", async () => {
    const other = await startApp({ dir: app.dir, node: app.node, env: { SESSION_SECRET: 'another-secret-0123456789-abcdefghijkl' } });
    try {
      const client = new CookieClient();
      expect(viewsOf(await (await client.request(server.origin, '/')).text())).toBe(1);
      expect(viewsOf(await (await client.request(server.origin, '/')).text())).toBe(2);
      // Signed with the demo's fallback secret: the other server starts a fresh session ...
      expect(viewsOf(await (await client.request(other.origin, '/')).text())).toBe(1);
      // ... and its own cookie counts on.
      expect(viewsOf(await (await client.request(other.origin, '/')).text())).toBe(2);
    } catch (err) {
      if (err instanceof Error) err.message += `\n--- output of the server with SESSION_SECRET ---\n${other.output()}`;
      throw err;
    } finally {
      await other.stop();
    }
  });

  // SvelteKit bundles its runtime into the server build: a package left outside it would load a
  // second SvelteKit, whose redirect and error classes the app's would not recognise (a redirect
  // from the inner handle, or the store's 503, would become 500s). The package's `svelte` export
  // condition makes vite-plugin-svelte bundle it too. (Bundled code keeps the package's doc
  // comments, which show `import ... from '@svelte-dev/session'`: only real imports count.)
  it('bundles the package into the server build (its `svelte` export condition), so the app has one SvelteKit', () => {
    const serverDir = path.join(app.dir, 'build', 'server');
    const files = readdirSync(serverDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    const importing = files.filter((f) => /^\s*(import|export)\b[^;]*?from\s*["']@svelte-dev\/session["']|\bimport\(\s*["']@svelte-dev\/session["']\s*\)/m.test(readFileSync(path.join(serverDir, f), 'utf8')));
    expect(importing).toEqual([]);
  });

  it('a redirect() thrown by the handle inside handleSession is a redirect, not an error', () =>
    withServerOutput(async () => {
      const response = await new CookieClient().request(server.origin, '/account');
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/login?next=%2Faccount');
    }));

  it('a session store that is down answers 503 (SvelteKit recognises the error), not 500', async () => {
    const closed = await freePort();
    const down = await startApp({ dir: app.dir, node: app.node, env: { SESSION_ADAPTER: 'redis', REDIS_URL: `redis://127.0.0.1:${closed}` } });
    try {
      // The counter page writes the session: the store is needed, and cannot be reached.
      const response = await new CookieClient().request(down.origin, '/');
      expect(response.status).toBe(503);
      expect(down.output()).toMatch(/SessionStoreError/);
    } catch (err) {
      if (err instanceof Error) err.message += `\n--- output of the server without Redis ---\n${down.output()}`;
      throw err;
    } finally {
      await down.stop();
    }
  }, 30_000);

  /**
   * One `tsc --noEmit` of the app with skipLibCheck off (a Kit app's tsconfig sets skipLibCheck,
   * which hides an error in a .d.ts and silently turns the broken type into `any`); its
   * diagnostics are split by file below. Only the app's own files, the package's and Kit's count.
   */
  let typeCheck: Promise<string[]> | undefined;
  function typeCheckErrors(): Promise<string[]> {
    typeCheck ??= (async () => {
      const tsc = path.join(app.dir, 'node_modules', 'typescript', 'bin', 'tsc');
      const output = await runInApp(app, [tsc, '--noEmit', '-p', 'tsconfig.json', '--skipLibCheck', 'false']).catch((err: Error) => err.message);
      if (/error TS5\d{3}/.test(output)) throw new Error(`tsc could not use the app's tsconfig.json:\n${output}`);
      return output.split('\n').filter((line) => /\(\d+,\d+\): error TS\d+/.test(line));
    })();
    return typeCheck;
  }

  it("type-checks: the demo's sources against the installed package's declarations (as svelte-check does for .ts files)", async () => {
    expect((await typeCheckErrors()).filter((line) => !line.startsWith('node_modules/'))).toEqual([]);
  }, 120_000);

  // The package declares SvelteKit's Handle itself (SvelteKit 3 exports it from
  // '@sveltejs/kit/hooks' only), so its declarations hold on both versions.
  it("type-checks: the package's own declarations against this Kit's types", async () => {
    const ours = (await typeCheckErrors()).filter((line) => line.startsWith('node_modules/@svelte-dev/session/'));
    expect(ours).toEqual([]);
  }, 120_000);

  // Kit 2 types event.cookies with @types/cookie's names. The package depends on cookie@^0.7, which
  // ships no types, so TypeScript still finds @types/cookie for Kit; cookie@1 (typed, without
  // those names) on top of node_modules turned them into `any`. Kit 3 nests its own cookie@2.
  it("type-checks: Kit's own declarations, with the package's dependencies installed beside them", async () => {
    const kits = (await typeCheckErrors()).filter((line) => line.startsWith('node_modules/@sveltejs/kit/'));
    expect(kits).toEqual([]);
  }, 120_000);
});
