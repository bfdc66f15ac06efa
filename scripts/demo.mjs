#!/usr/bin/env node
// `npm run demo`: builds the package and the demo app (examples/demo, SvelteKit + adapter-node),
// then serves the demo over plain HTTP at http://localhost:PORT (and http://127.0.0.1:PORT).
//
//   SESSION_ADAPTER=cookie|memory|redis|none  the strategy a new visitor gets (default cookie;
//                                             redis reads REDIS_URL; none: no session library,
//                                             the baseline of bench/http.mjs)
//   REDIS_URL=redis://127.0.0.1:6379          also offers Redis in the demo's strategy switch
//   PORT=3000                                 where to listen (0: any free port)
//   HOST=127.0.0.1                            one address to listen on (default: 127.0.0.1 and ::1)
//   npm run demo -- --build-only              build, do not serve
//   npm run demo -- --no-build                serve the existing build
//   npm run demo -- --no-build --dir DIR      serve DIR/build: a copy of the demo built elsewhere
//                                             (the tests serve the demo on SvelteKit 3 this way)
//
// The build is served by scripts/demo-serve.mjs (adapter-node's handler.js in a node:http server
// of ours), not by build/index.js: see there why.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { serve } from './demo-serve.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const dirAt = args.indexOf('--dir');
const dir = dirAt >= 0 ? path.resolve(args[dirAt + 1] ?? '') : path.join(root, 'examples', 'demo');

function run(what, command, cwd) {
  console.log(`\n> ${what}`);
  const result = spawnSync(process.execPath, command, { cwd, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!args.includes('--no-build')) {
  if (dirAt >= 0) {
    console.error('--dir serves an app built elsewhere: add --no-build.');
    process.exit(2);
  }
  run('build the package (tsc -> dist/)', [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], root);
  run('build the demo (vite build)', [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], dir);
}
if (args.includes('--build-only')) process.exit(0);

const port = process.env.PORT ?? '3000';
const adapter = process.env.SESSION_ADAPTER ?? 'cookie';
let server;
try {
  server = await serve({ dir, port, host: process.env.HOST || undefined });
} catch (error) {
  console.error(`\nThe demo could not start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
console.log(
  `\nThe demo is running at http://localhost:${server.port} (also http://127.0.0.1:${server.port}), ` +
    `SESSION_ADAPTER=${adapter}. Ctrl+C stops it.`
);

let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    // A second Ctrl+C does not wait for requests in flight.
    if (++signals > 1) process.exit(130);
    server.close(signal).then(() => {
      // Everything is closed: the process ends by itself. Should something the app opened still
      // hold it (a connection it did not close on 'sveltekit:shutdown'), end it anyway.
      setTimeout(() => process.exit(0), 2_000).unref();
    });
  });
}
