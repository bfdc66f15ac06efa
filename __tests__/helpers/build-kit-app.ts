/**
 * Builds the SvelteKit fixture app (__tests__/fixtures/kit-app) when, and only when, its
 * sources changed since the last build.
 *
 * This module must work both as ESM (imported by kit-app.ts inside Jest's ESM runtime) and
 * as CommonJS: Jest loads `globalSetup` through the ts-jest transform as CommonJS, without
 * `moduleNameMapper`, so global-setup.ts `require`s this file. Hence: no `import.meta`, no
 * top-level await and no relative imports here; the fixture folder is passed in.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Folders of the fixture that are build output or caches, never inputs. */
const IGNORED_DIRS = new Set(['.svelte-kit', 'build', 'node_modules', '.vite']);

/** Installed packages whose version changes what the build produces. */
const TOOLCHAIN = ['@sveltejs/kit', 'svelte', 'vite', '@sveltejs/vite-plugin-svelte'];

/** Kit's build output (Kit empties this folder when a build starts). */
export function outputDirOf(fixtureDir: string): string {
	return path.join(fixtureDir, '.svelte-kit', 'output');
}

function stampFileOf(fixtureDir: string): string {
	return path.join(outputDirOf(fixtureDir), '.session-fixture-stamp');
}

/** The nearest node_modules/<name> above `from`, as Node would find it. */
function findPackageDir(from: string, name: string): string | undefined {
	for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
		const candidate = path.join(dir, 'node_modules', name);
		if (existsSync(path.join(candidate, 'package.json'))) return candidate;
		if (path.dirname(dir) === dir) return undefined;
	}
}

function listFixtureFiles(dir: string, out: string[] = []): string[] {
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		if (entry.isDirectory()) {
			if (!IGNORED_DIRS.has(entry.name)) listFixtureFiles(path.join(dir, entry.name), out);
		} else if (entry.isFile()) {
			out.push(path.join(dir, entry.name));
		}
	}
	return out;
}

function toolchainVersions(fixtureDir: string): string {
	return TOOLCHAIN.map((name) => {
		const dir = findPackageDir(fixtureDir, name);
		if (!dir) return `${name}@missing`;
		const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string };
		return `${name}@${pkg.version ?? '?'}`;
	}).join('\n');
}

/** A hash of every fixture source file (path + content) plus the toolchain versions. */
export function fixtureHash(fixtureDir: string, extraInputs: string[] = []): string {
	const hash = createHash('sha256');
	hash.update(toolchainVersions(fixtureDir));
	for (const dir of [fixtureDir, ...extraInputs]) {
		for (const file of listFixtureFiles(dir).sort()) {
			hash.update('\0' + path.relative(fixtureDir, file).split(path.sep).join('/') + '\0');
			hash.update(readFileSync(file));
		}
	}
	return hash.digest('hex');
}

function isBuildCurrent(fixtureDir: string, hash: string): boolean {
	const server = path.join(outputDirOf(fixtureDir), 'server');
	try {
		return (
			readFileSync(stampFileOf(fixtureDir), 'utf8').trim() === hash &&
			existsSync(path.join(server, 'index.js')) &&
			existsSync(path.join(server, 'manifest.js'))
		);
	} catch {
		return false;
	}
}

function runViteBuild(fixtureDir: string): Promise<void> {
	const viteDir = findPackageDir(fixtureDir, 'vite');
	if (!viteDir) return Promise.reject(new Error(`vite is not installed above ${fixtureDir}; run npm install`));

	return new Promise((resolve, reject) => {
		// Spawned rather than called through Vite's JS API: `@sveltejs/kit/vite` captures
		// `process.cwd()` when it is first imported and loads svelte.config.js from there,
		// so the build has to run with the fixture as its working directory.
		const env = { ...process.env };
		delete env.NODE_OPTIONS; // Jest's --experimental-vm-modules is not wanted here.
		const child = spawn(process.execPath, [path.join(viteDir, 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], {
			cwd: fixtureDir,
			env,
			stdio: ['ignore', 'pipe', 'pipe']
		});
		let output = '';
		child.stdout.on('data', (chunk) => (output += chunk));
		child.stderr.on('data', (chunk) => (output += chunk));
		child.on('error', reject);
		child.on('close', (code) => {
			if (code === 0) resolve();
			else reject(new Error(`vite build of ${fixtureDir} failed (exit ${code}):\n${output}`));
		});
	});
}

function sleep(ms: number) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function processIsAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/**
 * A cross-process lock (the directory `lockDir`, holding its owner's pid) so that two Jest
 * processes never build one thing at once. A lock whose owner died is taken over.
 */
export async function withDirLock<T>(lockDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
	mkdirSync(path.dirname(lockDir), { recursive: true });
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			mkdirSync(lockDir);
			writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
			break;
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
			let owner = NaN;
			try {
				owner = Number(readFileSync(path.join(lockDir, 'pid'), 'utf8'));
			} catch {
				// The owner has not written its pid yet, or has just released the lock.
			}
			let age = 0;
			try {
				age = Date.now() - statSync(lockDir).mtimeMs;
			} catch {
				// Released meanwhile.
			}
			const stale = Number.isInteger(owner) && owner > 0 ? !processIsAlive(owner) : age > 10_000;
			if (stale) {
				rmSync(lockDir, { recursive: true, force: true });
				continue;
			}
			if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lockDir}`);
			await sleep(200);
		}
	}
	try {
		return await fn();
	} finally {
		rmSync(lockDir, { recursive: true, force: true });
	}
}

/**
 * Builds the fixture app in `fixtureDir` unless the existing output was built from exactly
 * the current sources and toolchain versions (and the files of `extraInputs`, folders the app
 * builds in, such as the package's dist/ for the demo). Returns Kit's output folder.
 */
export async function buildFixture(fixtureDir: string, extraInputs: string[] = []): Promise<string> {
	const outputDir = outputDirOf(fixtureDir);
	if (isBuildCurrent(fixtureDir, fixtureHash(fixtureDir, extraInputs))) return outputDir;

	return withDirLock(path.join(fixtureDir, '.svelte-kit', '.session-fixture-build.lock'), 180_000, async () => {
		// Another process may have finished the build while this one waited for the lock.
		const hash = fixtureHash(fixtureDir, extraInputs);
		if (isBuildCurrent(fixtureDir, hash)) return outputDir;

		rmSync(stampFileOf(fixtureDir), { force: true });
		await runViteBuild(fixtureDir);
		for (const file of ['index.js', 'manifest.js']) {
			if (!existsSync(path.join(outputDir, 'server', file))) {
				throw new Error(`vite build did not produce ${path.join(outputDir, 'server', file)}`);
			}
		}
		writeFileSync(stampFileOf(fixtureDir), hash + '\n');
		return outputDir;
	});
}
