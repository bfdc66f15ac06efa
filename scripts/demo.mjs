#!/usr/bin/env node
// `npm run demo`: builds the package and the demo app (examples/demo, SvelteKit + adapter-node),
// then serves the demo and prints its address.
//
//   SESSION_ADAPTER=cookie|memory|redis   the strategy (default cookie; redis reads REDIS_URL)
//   PORT=3000                             where to listen
//   npm run demo -- --build-only          build, do not serve
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demo = path.join(root, 'examples', 'demo');

function run(what, args, cwd) {
  console.log(`\n> ${what}`);
  const result = spawnSync(process.execPath, args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run('build the package (tsc -> dist/)', [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], root);
run('build the demo (vite build)', [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], demo);
if (process.argv.includes('--build-only')) process.exit(0);

const port = process.env.PORT ?? '3000';
const adapter = process.env.SESSION_ADAPTER ?? 'cookie';
const server = spawn(process.execPath, [path.join(demo, 'build', 'index.js')], {
  cwd: demo,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, PORT: port }
});
server.stdout.on('data', (chunk) => {
  const text = String(chunk);
  if (/Listening on/.test(text)) {
    console.log(`\nThe demo is running at http://localhost:${port} (SESSION_ADAPTER=${adapter}). Ctrl+C stops it.`);
  } else {
    process.stdout.write(text);
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code) => process.exit(code ?? 0));
