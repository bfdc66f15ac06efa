/**
 * A SvelteKit 2 app (adapter-node) built on `@svelte-dev/auth` 1.1.3 and `@svelte-dev/auth-oauth2`
 * 1.0.2 from the npm registry, with this package installed the way users get it: the `npm pack`
 * tarball (see user-app.ts), which `@svelte-dev/auth`'s peer dependency on `@svelte-dev/session`
 * resolves to. The app's sources are __tests__/fixtures/auth-app; the package.json is written here.
 *
 * The app lives in node_modules/.cache/session-user-apps/auth-kit2, with a stamp of what it was made
 * from (the tarball's sha256, the fixture's files, the package.json written here); a later run
 * reuses it while the stamp matches, and otherwise wipes and remakes it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withDirLock } from './build-kit-app.js';
import { packPackage, ROOT, USER_APPS_DIR, type UserApp } from './user-app.js';

export const AUTH_FIXTURE_DIR = path.join(ROOT, '__tests__', 'fixtures', 'auth-app');
const APP_DIR = path.join(USER_APPS_DIR, 'auth-kit2');
const STAMP_FILE = '.session-auth-app-stamp';

/** The versions the libraries built on 1.1.3 were published at. */
export const AUTH_VERSION = '1.1.3';
export const AUTH_OAUTH2_VERSION = '1.0.2';
/** svelte-check, for type-checking the app's .ts and .svelte files (not a dependency of the repository). */
const SVELTE_CHECK_VERSION = '4.7.8';

/** The fixture's inputs (build output, caches and node_modules are not). */
const IGNORED = new Set(['node_modules', 'build', '.svelte-kit']);

function listFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (IGNORED.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) listFiles(full, out);
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The lock file's version of a package the repository installs (so npm's cache has it). */
function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in the root package-lock.json`);
  return version;
}

/** As user-app.ts: this process's environment less Jest's NODE_OPTIONS and what npm hands its children. */
function cleanEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.INIT_CWD;
  for (const key of Object.keys(env)) {
    if (/^npm_(package_|lifecycle_|config_local_prefix$)/i.test(key)) delete env[key];
  }
  env.PATH = [path.join(dir, 'node_modules', '.bin'), process.env.PATH ?? ''].join(path.delimiter);
  return env;
}

export interface CommandResult {
  code: number;
  output: string;
}

/** Runs a command in `dir`; resolves with its exit code and output (stdout and stderr together). */
export function runIn(dir: string, command: string, args: string[], timeoutMs = 15 * 60_000): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: dir, env: cleanEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`\`${[command, ...args].join(' ')}\` in ${dir} did not finish within ${timeoutMs / 1000} s:\n${output}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`\`${command}\` in ${dir} could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

async function mustRun(dir: string, command: string, args: string[]): Promise<string> {
  const { code, output } = await runIn(dir, command, args);
  if (code !== 0) throw new Error(`\`${[command, ...args].join(' ')}\` in ${dir} failed (exit ${code}):\n${output}`);
  return output;
}

/**
 * The app's package.json: what a user runs `npm install @svelte-dev/auth @svelte-dev/auth-oauth2
 * @svelte-dev/session` for under dependencies (the session package from its tarball), the toolchain
 * of `npx sv create` (the repository's own versions, in npm's cache) under devDependencies.
 */
function manifest(tarballName: string): string {
  const locked = (name: string) => [name, lockedVersion(name)] as const;
  const pkg = {
    name: 'session-auth-app-kit2',
    version: '0.0.1',
    private: true,
    type: 'module',
    scripts: { build: 'vite build', check: 'svelte-kit sync && svelte-check --tsconfig ./tsconfig.json', start: 'node build/index.js' },
    dependencies: {
      '@svelte-dev/auth': AUTH_VERSION,
      '@svelte-dev/auth-oauth2': AUTH_OAUTH2_VERSION,
      '@svelte-dev/session': `file:./${tarballName}`
    },
    devDependencies: {
      ...Object.fromEntries(
        ['@sveltejs/adapter-node', '@sveltejs/kit', '@sveltejs/vite-plugin-svelte', '@types/node', 'svelte', 'typescript', 'vite'].map(locked)
      ),
      'svelte-check': SVELTE_CHECK_VERSION
    }
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

function stampOf(tarball: string, pkg: string): string {
  const hash = createHash('sha256');
  hash.update(`tarball ${sha256(readFileSync(tarball))}\0package.json ${pkg}\0`);
  for (const file of listFiles(AUTH_FIXTURE_DIR).sort()) {
    hash.update(`fixture ${path.relative(AUTH_FIXTURE_DIR, file).split(path.sep).join('/')}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function isCurrent(stamp: string): boolean {
  try {
    return readFileSync(path.join(APP_DIR, STAMP_FILE), 'utf8').trim() === stamp && existsSync(path.join(APP_DIR, 'build', 'index.js'));
  } catch {
    return false;
  }
}

let prepared: Promise<UserApp> | undefined;

/** The app, installed and built (`vite build`, adapter-node): ready for `startApp(app)`. Once per process. */
export function prepareAuthApp(): Promise<UserApp> {
  prepared ??= makeAuthApp();
  return prepared;
}

async function makeAuthApp(): Promise<UserApp> {
  const tarball = await packPackage();
  const tarballName = path.basename(tarball);
  const pkg = manifest(tarballName);
  const stamp = stampOf(tarball, pkg);
  const app: UserApp = { dir: APP_DIR, node: process.execPath };
  if (isCurrent(stamp)) return app;

  return withDirLock(`${APP_DIR}.lock`, 20 * 60_000, async () => {
    if (isCurrent(stamp)) return app; // made by another run meanwhile

    rmSync(APP_DIR, { recursive: true, force: true });
    mkdirSync(APP_DIR, { recursive: true });
    for (const file of listFiles(AUTH_FIXTURE_DIR)) {
      const to = path.join(APP_DIR, path.relative(AUTH_FIXTURE_DIR, file));
      mkdirSync(path.dirname(to), { recursive: true });
      cpSync(file, to);
    }
    writeFileSync(path.join(APP_DIR, 'package.json'), pkg);
    // The tarball sits in the app, as a file a user might install from.
    cpSync(tarball, path.join(APP_DIR, tarballName));

    await mustRun(APP_DIR, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline']);
    await mustRun(APP_DIR, process.execPath, [path.join(APP_DIR, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn']);
    if (!existsSync(path.join(APP_DIR, 'build', 'index.js'))) throw new Error(`vite build in ${APP_DIR} did not produce build/index.js`);
    writeFileSync(path.join(APP_DIR, STAMP_FILE), stamp + '\n');
    return app;
  });
}

/**
 * svelte-check of the app (after `svelte-kit sync`), as its `npm run check` does, with the
 * machine-readable output; resolves with the exit code and the output.
 */
export async function checkAuthApp(app: UserApp): Promise<CommandResult> {
  const bin = (name: string, file: string) => path.join(app.dir, 'node_modules', name, file);
  await mustRun(app.dir, app.node, [bin('@sveltejs/kit', 'svelte-kit.js'), 'sync']);
  return runIn(app.dir, app.node, [bin('svelte-check', 'bin/svelte-check'), '--tsconfig', './tsconfig.json', '--output', 'machine', '--fail-on-warnings'], 5 * 60_000);
}
