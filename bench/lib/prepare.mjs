/**
 * Makes sure what the bench drives exists: the repo's dist/ (root `npm run build`) and the bench
 * app's server build (`vite build` in bench/app). Each is built only when missing, or when
 * `force` is given for the app.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const here = path.dirname(new URL(import.meta.url).pathname);
export const BENCH_DIR = path.resolve(here, '..');
export const REPO_DIR = path.resolve(BENCH_DIR, '..');
export const APP_DIR = path.join(BENCH_DIR, 'app');
const SERVER_DIR = path.join(APP_DIR, '.svelte-kit', 'output', 'server');

function run(command, args, cwd) {
	console.error(`[bench] ${path.relative(BENCH_DIR, cwd) || '.'}: ${command} ${args.join(' ')}`);
	const result = spawnSync(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
	if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed in ${cwd} (exit ${result.status})`);
}

export function ensureDist() {
	if (existsSync(path.join(REPO_DIR, 'dist', 'index.js'))) return;
	if (!existsSync(path.join(REPO_DIR, 'node_modules'))) run('npm', ['ci'], REPO_DIR);
	run('npm', ['run', 'build'], REPO_DIR);
}

export function ensureApp({ force = false } = {}) {
	const built = existsSync(path.join(SERVER_DIR, 'index.js')) && existsSync(path.join(SERVER_DIR, 'manifest.js'));
	if (built && !force) return;
	run(path.join(BENCH_DIR, 'node_modules', '.bin', 'vite'), ['build'], APP_DIR);
}

/** Imports the built app and returns Kit's `Server`, initialised, and a `respond(request)`. */
export async function loadServer() {
	const { Server } = await import(pathToFileURL(path.join(SERVER_DIR, 'index.js')).href);
	const { manifest } = await import(pathToFileURL(path.join(SERVER_DIR, 'manifest.js')).href);
	const server = new Server(manifest);
	await server.init({ env: {} });
	const options = { getClientAddress: () => '127.0.0.1' };
	return { server, respond: (request) => server.respond(request, options) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	ensureDist();
	ensureApp({ force: process.argv.includes('--force') });
}
