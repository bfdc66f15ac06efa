/**
 * Starts a SvelteKit app built with adapter-node (the demo in examples/demo, or a copy of it
 * installed elsewhere) as a real server process on a free port, and stops it.
 *
 * The demo is started as the README starts it: `node scripts/demo.mjs` (with `--no-build`: the
 * jest globalSetup built it), which serves build/handler.js over plain HTTP on 127.0.0.1 and ::1,
 * with no ORIGIN. Other apps run `node build/index.js`, told their origin with ORIGIN.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { freePort } from './system-service.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The demo app; the jest globalSetup builds it (examples/demo/build). */
export const DEMO_DIR = path.join(ROOT, 'examples', 'demo');
/** `npm run demo`. */
export const DEMO_SCRIPT = path.join(ROOT, 'scripts', 'demo.mjs');

export interface AppServer {
  /** `http://localhost:PORT`: what a browser would open. */
  readonly origin: string;
  readonly port: number;
  /** Everything the process printed, for failure messages. */
  output(): string;
  /** SIGTERM, and wait for the exit. Idempotent. */
  stop(): Promise<void>;
}

export interface StartAppOptions {
  /** The app folder, holding build/index.js. @default DEMO_DIR */
  dir?: string;
  /** The Node binary to run it with. @default this process's */
  node?: string;
  /** Environment on top of this process's (SESSION_ADAPTER, SESSION_SECRET, REDIS_URL, ...). */
  env?: Record<string, string>;
  /**
   * Serve it with the demo's script (`node scripts/demo.mjs --no-build --dir <dir>`), as
   * `npm run demo` does, rather than `node build/index.js` with ORIGIN.
   * @default true for the demo itself (no `dir`), false for another app
   */
  demoScript?: boolean;
}

const running = new Set<ChildProcess>();
// A server a failed test did not stop must not outlive the run. Jest hands each test file a copy
// of `process` whose 'exit' never fires, so the hook goes on the real one.
(vm.runInThisContext('process') as NodeJS.Process).once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts an adapter-node app (see the top of this file for how) and resolves once it listens.
 */
export async function startApp(options: StartAppOptions = {}): Promise<AppServer> {
  const dir = options.dir ?? DEMO_DIR;
  const demoScript = options.demoScript ?? options.dir === undefined;
  const port = await freePort();
  const env: Record<string, string | undefined> = demoScript
    ? // Nothing but the port: `PORT=... npm run demo`, which takes each request as
      // http://<its Host>. (An ORIGIN of this process's is dropped by the script.)
      { ...process.env, PORT: String(port), ...options.env }
    : {
        ...process.env,
        // adapter-node: listen on loopback only, and take requests as http://localhost:PORT.
        HOST: '127.0.0.1',
        PORT: String(port),
        ORIGIN: `http://localhost:${port}`,
        ...options.env
      };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the app
  const args = demoScript ? [DEMO_SCRIPT, '--no-build', '--dir', dir] : [path.join(dir, 'build', 'index.js')];
  const child = spawn(options.node ?? process.execPath, args, {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  });
  running.add(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => (running.delete(child), resolve())));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app in ${dir} did not start within 20 s:\n${output}`)), 20_000);
    const check = () => {
      if (/Listening on/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app in ${dir} exited with ${code} before listening:\n${output}`));
    });
  });

  let stopping: Promise<void> | undefined;
  return {
    origin: `http://localhost:${port}`,
    port,
    output: () => output,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        // Both servers shut down gracefully; an app that keeps a connection open (a Redis
        // client not closed on 'sveltekit:shutdown') would never exit: end it after 5 s.
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    }
  };
}

/** Runs `fn`; a failure carries what `server` printed, so a test's error shows the app's. */
export async function withOutputOf(server: AppServer, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof Error) err.message += `\n--- server output ---\n${server.output()}`;
    throw err;
  }
}

/** A minimal cookie jar over fetch, for talking to app servers without a browser. */
export class CookieClient {
  readonly #jar = new Map<string, string>();

  /**
   * GET, or POST of a form to `origin + path`: a plain form post as without JavaScript, or with
   * `enhanced` the way `use:enhance` sends it (Kit answers with an ActionResult as JSON).
   * `as` is the origin the page was served from (the Origin header Kit's CSRF check compares);
   * by default `origin`.
   */
  async request(
    origin: string,
    pathname: string,
    form?: Record<string, string>,
    { enhanced = false, as = origin }: { enhanced?: boolean; as?: string } = {}
  ): Promise<Response> {
    // A browser's accept header: SvelteKit answers a plain form post with a redirect (303), and
    // an enhanced one (or anything preferring JSON) with an ActionResult.
    const headers: Record<string, string> = { cookie: this.header(), accept: form && enhanced ? 'application/json' : 'text/html,*/*;q=0.8' };
    let body: string | undefined;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = as;
      if (enhanced) headers['x-sveltekit-action'] = 'true';
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(origin + pathname, { method: form ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired) this.#jar.delete(name);
      else this.#jar.set(name, pair.slice(eq + 1).trim());
    }
    return response;
  }

  /** The value the jar holds for `name`. */
  get(name: string): string | undefined {
    return this.#jar.get(name);
  }

  header(): string {
    return [...this.#jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  names(): string[] {
    return [...this.#jar.keys()];
  }
}
