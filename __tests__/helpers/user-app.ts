/**
 * The package as users get it: `npm pack` of this repository, installed from the tarball into a
 * fresh SvelteKit app (a copy of the demo's sources, without the demo's alias to ../../dist), on
 * SvelteKit 2 with this process's Node (20) or on SvelteKit 3 with Node 22 from the npm package
 * `node`.
 *
 * The apps live in node_modules/.cache/session-user-apps/kit<N>. Each holds a stamp of what it was
 * made from (the tarball's sha256, the demo's sources, the files written here with their pinned
 * versions); a later run reuses the app when the stamp matches, and otherwise wipes and remakes it.
 *
 * Note: the apps sit inside this repository's node_modules, so Node (and Vite) could fall back to
 * a package of the repository's own node_modules when the app's lacks one. The apps install every
 * dependency themselves, and packed-package.test.ts checks that every bare import of the tarball's
 * JavaScript is declared in its package.json, so such a fallback cannot hide a missing dependency.
 *
 * Nothing is printed on success; a failing command throws with its output.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDirLock } from './build-kit-app.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEMO_DIR = path.join(ROOT, 'examples', 'demo');
export const USER_APPS_DIR = path.join(ROOT, 'node_modules', '.cache', 'session-user-apps');

export type KitMajor = 2 | 3;

export interface UserApp {
  /** The app folder (holds build/index.js once built). */
  dir: string;
  /** The Node binary the app is built and served with. */
  node: string;
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

/**
 * The environment for the commands run here: this process's, less Jest's NODE_OPTIONS
 * (--experimental-vm-modules is not for builds or servers) and less what `npm test` hands its
 * children about the repository's own package (a nested npm must see the app as its project).
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.INIT_CWD;
  for (const key of Object.keys(env)) {
    if (/^npm_(package_|lifecycle_|config_local_prefix$)/i.test(key)) delete env[key];
  }
  return { ...env, ...extra };
}

interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs a command; resolves with its output, or rejects with the output when it fails. */
function run(command: string, args: string[], options: RunOptions): Promise<string> {
  const { cwd, env = cleanEnv(), timeoutMs = 15 * 60_000 } = options;
  const shown = [command, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`\`${shown}\` in ${cwd} did not finish within ${timeoutMs / 1000} s:\n${output}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`\`${shown}\` in ${cwd} could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`\`${shown}\` in ${cwd} failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// The tarball
// ---------------------------------------------------------------------------------------------

/** What `npm pack` needs from the repository: the manifest, what `files` lists, the build inputs. */
/**
 * What `npm pack` needs: the build inputs, and every top-level file package.json's `files` names
 * (README, LICENSE, CHANGELOG, ...), so that the tarball holds what a published one would.
 */
const PACK_INPUTS = [
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'src',
  ...(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).files as string[]).filter((entry) => !entry.startsWith('!') && !entry.includes('/') && entry !== 'dist')
];

/** Tarballs, by content: <sha256 prefix>/<npm's file name>. */
const TARBALLS_DIR = path.join(USER_APPS_DIR, 'tarballs');
const DAY_MS = 24 * 60 * 60_000;

let packed: Promise<string> | undefined;

/**
 * `npm pack` of the package, as a publisher runs it (its `prepack` script builds dist/); resolves
 * with the .tgz path. Once per process.
 *
 * Not run in the repository itself: `prepack` runs `npm run build`, which starts with
 * `rm -rf dist`, and other test files (and the demo build) read dist/ meanwhile. Packing with
 * `--ignore-scripts` would avoid that but would ship whatever dist/ holds rather than what the
 * real `prepack` builds. So the build inputs are copied to a temporary folder (with a symlink to
 * the repository's node_modules for tsc and the type packages) and `npm pack` runs there,
 * `prepack` included: the real publishing path, isolated from the repository's dist/.
 *
 * The tarball is then kept by content under node_modules/.cache/session-user-apps/tarballs (npm
 * pack is reproducible, so an unchanged package gives the same file) and the temporary folder is
 * removed; tarball folders unused for a day are pruned.
 */
export function packPackage(): Promise<string> {
  packed ??= (async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'session-pack-'));
    try {
      const copy = path.join(tmp, 'package');
      const out = path.join(tmp, 'out');
      mkdirSync(copy);
      mkdirSync(out);
      for (const name of [...PACK_INPUTS, ...readdirSync(ROOT).filter((name) => /^licen[cs]e/i.test(name))]) {
        if (existsSync(path.join(ROOT, name))) cpSync(path.join(ROOT, name), path.join(copy, name), { recursive: true });
      }
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
      await run('npm', ['pack', '--pack-destination', out], { cwd: copy });
      const tarballs = readdirSync(out).filter((name) => name.endsWith('.tgz'));
      if (tarballs.length !== 1) throw new Error(`npm pack left ${tarballs.length} tarballs in ${out}: ${tarballs.join(', ')}`);

      const made = path.join(out, tarballs[0]);
      const dir = path.join(TARBALLS_DIR, sha256(readFileSync(made)).slice(0, 32));
      const kept = path.join(dir, tarballs[0]);
      mkdirSync(dir, { recursive: true });
      if (!existsSync(kept)) {
        const partial = `${kept}.${process.pid}.partial`;
        cpSync(made, partial);
        renameSync(partial, kept); // atomic: a concurrent run sees the whole file or none
      }
      const now = new Date();
      utimesSync(dir, now, now);
      for (const entry of readdirSync(TARBALLS_DIR)) {
        const other = path.join(TARBALLS_DIR, entry);
        try {
          if (other !== dir && Date.now() - statSync(other).mtimeMs > DAY_MS) rmSync(other, { recursive: true, force: true });
        } catch {
          // Pruned by another run meanwhile.
        }
      }
      return kept;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  })();
  return packed;
}

// ---------------------------------------------------------------------------------------------
// The apps
// ---------------------------------------------------------------------------------------------

/** The lock file's version of a package the repository installs (so npm's cache has it). */
function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in the root package-lock.json`);
  return version;
}

interface KitSetup {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/**
 * Pinned versions. As `npx sv create` lays an app out: the toolchain under devDependencies, what the
 * user installs (`npm install @svelte-dev/session ioredis`) under dependencies (adapter-node then
 * leaves those as imports resolved in node_modules at run time, rather than bundling them).
 */
function kitSetup(kit: KitMajor): KitSetup {
  if (kit === 2) {
    // Exactly the repository's own versions (package-lock.json): npm's cache already holds them.
    const locked = (name: string) => [name, lockedVersion(name)] as const;
    return {
      dependencies: Object.fromEntries([locked('ioredis')]),
      devDependencies: Object.fromEntries([
        locked('@sveltejs/kit'),
        locked('@sveltejs/adapter-node'),
        locked('@sveltejs/vite-plugin-svelte'),
        locked('@types/node'),
        locked('svelte'),
        locked('typescript'),
        locked('vite')
      ])
    };
  }
  // SvelteKit 3.2.0: engines node >=22.17; peers vite ^8.0.12, @sveltejs/vite-plugin-svelte ^7.0.0,
  // svelte ^5.57.1, typescript ^6.0.0 (optional). adapter-node 6 peers @sveltejs/kit ^3.
  // `node` (the npm package) installs a Node 22 binary at node_modules/node/bin/node.
  return {
    dependencies: { ioredis: lockedVersion('ioredis') },
    devDependencies: {
      '@sveltejs/kit': '3.2.0',
      '@sveltejs/adapter-node': '6.0.1',
      '@sveltejs/vite-plugin-svelte': '7.3.1',
      '@types/node': lockedVersion('@types/node'), // the demo's session.ts reads process.env
      svelte: lockedVersion('svelte'), // 5.57.3
      typescript: '6.0.3',
      vite: '8.3.8',
      node: '22.23.3'
    }
  };
}

/** The demo's files that make the app: its sources and static files. */
const DEMO_INPUTS = ['src', 'static'];

function listFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) listFiles(full, out);
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** The files prepareUserApp writes besides the demo's, by name. */
function generatedFiles(kit: KitMajor, tarballName: string): Record<string, string> {
  const { dependencies, devDependencies } = kitSetup(kit);
  const pkg = {
    name: `session-user-app-kit${kit}`,
    version: '0.0.1',
    private: true,
    type: 'module',
    scripts: { build: 'vite build', start: 'node build/index.js' },
    dependencies: { '@svelte-dev/session': `file:./${tarballName}`, ...dependencies },
    devDependencies
  };
  const files: Record<string, string> = { 'package.json': JSON.stringify(pkg, null, 2) + '\n' };
  if (kit === 2) {
    // The demo's config less its `kit.alias`: '@svelte-dev/session' comes from node_modules.
    files['svelte.config.js'] = [
      "import adapter from '@sveltejs/adapter-node';",
      '',
      "/** @type {import('@sveltejs/kit').Config} */",
      'const config = {',
      '  kit: {',
      '    adapter: adapter()',
      '  }',
      '};',
      '',
      'export default config;',
      ''
    ].join('\n');
    files['vite.config.js'] = [
      "import { sveltekit } from '@sveltejs/kit/vite';",
      "import { defineConfig } from 'vite';",
      '',
      'export default defineConfig({',
      '  plugins: [sveltekit()],',
      '  clearScreen: false',
      '});',
      ''
    ].join('\n');
  } else {
    // SvelteKit 3 refuses svelte.config.js (`config_file_unsupported`): its options go to the
    // Vite plugin, flat (no `kit` key).
    files['vite.config.js'] = [
      "import adapter from '@sveltejs/adapter-node';",
      "import { sveltekit } from '@sveltejs/kit/vite';",
      "import { defineConfig } from 'vite';",
      '',
      'export default defineConfig({',
      '  plugins: [sveltekit({ adapter: adapter() })],',
      '  clearScreen: false',
      '});',
      ''
    ].join('\n');
  }
  // For type-checking the app, the tsconfig.json each Kit asks for: on Kit 2 the one `npx sv create`
  // writes (extending .svelte-kit/tsconfig.json); on Kit 3 its own example (Kit 3 writes the
  // parent config to node_modules/$app/tsconfig.json and warns about a user config not extending it).
  const tsconfig =
    kit === 2
      ? {
          extends: './.svelte-kit/tsconfig.json',
          compilerOptions: {
            allowJs: true,
            checkJs: true,
            esModuleInterop: true,
            forceConsistentCasingInFileNames: true,
            resolveJsonModule: true,
            skipLibCheck: true,
            sourceMap: true,
            strict: true,
            moduleResolution: 'bundler'
          }
        }
      : {
          extends: '$app/tsconfig',
          compilerOptions: { strict: true },
          include: ['src', '*'],
          exclude: ['src/service-worker']
        };
  files['tsconfig.json'] = JSON.stringify(tsconfig, null, 2) + '\n';
  return files;
}

const STAMP_FILE = '.session-user-app-stamp';

function stampOf(kit: KitMajor, tarball: string, files: Record<string, string>): string {
  const hash = createHash('sha256');
  hash.update(`kit ${kit}\0tarball ${sha256(readFileSync(tarball))}\0`);
  for (const name of Object.keys(files).sort()) hash.update(`file ${name}\0${files[name]}\0`);
  for (const input of DEMO_INPUTS) {
    for (const file of listFiles(path.join(DEMO_DIR, input)).sort()) {
      hash.update(`demo ${path.relative(DEMO_DIR, file).split(path.sep).join('/')}\0`);
      hash.update(readFileSync(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

function nodeOf(kit: KitMajor, dir: string): string {
  return kit === 2 ? process.execPath : path.join(dir, 'node_modules', 'node', 'bin', 'node');
}

function isCurrent(dir: string, node: string, stamp: string): boolean {
  try {
    return (
      readFileSync(path.join(dir, STAMP_FILE), 'utf8').trim() === stamp &&
      existsSync(path.join(dir, 'build', 'index.js')) &&
      existsSync(node)
    );
  } catch {
    return false;
  }
}

const prepared = new Map<KitMajor, Promise<UserApp>>();

/**
 * A SvelteKit app made the way a user's is, with the packed package installed from its tarball,
 * built with `vite build` (adapter-node): ready for `startApp({ dir, node })`. Once per process
 * and kit; across runs, reused while its stamp matches.
 */
export function prepareUserApp(kit: KitMajor): Promise<UserApp> {
  let app = prepared.get(kit);
  if (!app) {
    app = makeUserApp(kit);
    prepared.set(kit, app);
  }
  return app;
}

async function makeUserApp(kit: KitMajor): Promise<UserApp> {
  const tarball = await packPackage();
  const dir = path.join(USER_APPS_DIR, `kit${kit}`);
  const node = nodeOf(kit, dir);
  const tarballName = path.basename(tarball);
  const files = generatedFiles(kit, tarballName);
  const stamp = stampOf(kit, tarball, files);
  if (isCurrent(dir, node, stamp)) return { dir, node };

  return withDirLock(`${dir}.lock`, 20 * 60_000, async () => {
    if (isCurrent(dir, node, stamp)) return { dir, node }; // made by another run meanwhile

    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const input of DEMO_INPUTS) {
      const from = path.join(DEMO_DIR, input);
      if (existsSync(from)) cpSync(from, path.join(dir, input), { recursive: true });
    }
    mkdirSync(path.join(dir, 'static'), { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
    // The tarball sits in the app, as a file a user might install from, so that `file:./<tgz>`
    // stays valid whatever happens to the tarball cache.
    cpSync(tarball, path.join(dir, tarballName));

    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir });
    if (!existsSync(node)) {
      throw new Error(`npm install in ${dir} did not leave a Node binary at ${node} (did the \`node\` package's preinstall script run?)`);
    }
    // What `npm run build` does there: node_modules/.bin first in PATH (for kit 3 that holds the
    // `node` package's Node 22, so whatever the build spawns runs on it too), Vite run by `node`.
    const env = cleanEnv({ PATH: [path.join(dir, 'node_modules', '.bin'), process.env.PATH ?? ''].join(path.delimiter) });
    await run(node, [path.join(dir, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: dir, env });
    if (!existsSync(path.join(dir, 'build', 'index.js'))) throw new Error(`vite build in ${dir} did not produce build/index.js`);
    writeFileSync(path.join(dir, STAMP_FILE), stamp + '\n');
    return { dir, node };
  });
}

/** Runs `node <args>` in an app's folder with the app's environment; resolves with the output. */
export function runInApp(app: UserApp, args: string[]): Promise<string> {
  const env = cleanEnv({ PATH: [path.join(app.dir, 'node_modules', '.bin'), process.env.PATH ?? ''].join(path.delimiter) });
  return run(app.node, args, { cwd: app.dir, env });
}
