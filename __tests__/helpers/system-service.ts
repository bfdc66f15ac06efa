/**
 * Tests that need something installed on the machine (redis-server, chromium): finding the
 * binary, and a `describe()` that runs the tests when it is there. Without it the tests are
 * skipped on a developer's machine, with one line on stderr per process so that the skip is not
 * silent, but on CI (`CI=true`) they fail: a CI image that lost the service must not turn its
 * tests green by skipping them.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import vm from 'node:vm';

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

/**
 * `override` when set (even to a path that does not exist: that is how the "not installed" path
 * is exercised on a machine that has the binary), else the first `name` on PATH.
 */
export function findBinary(name: string, override: string | undefined): string | undefined {
  if (override !== undefined && override !== '') return isExecutable(override) ? override : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

export interface SystemService {
  /** Whether it is installed. */
  installed: boolean;
  /** The name of the failing test on CI, e.g. 'needs chromium'. */
  testName: string;
  /** Its error on CI, naming the package to install. */
  notInstalled: string;
  /** The one line printed (once per process) when the tests are skipped. */
  skipLine: string;
}

/** `describe(name, body)` when `service` is installed; otherwise skipped, or failing with `CI=true`. */
export function describeWithService(service: SystemService, name: string, body: () => void): void {
  if (service.installed) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it(service.testName, () => {
        throw new Error(service.notInstalled);
      });
    });
  } else {
    warnOncePerProcess(service.skipLine);
    describe.skip(name, body);
  }
}

/**
 * Once per Jest process, not per test file: Jest gives each file its own `process` and module
 * registry, so the record lives on the real process (the global of Node's main context).
 */
function warnOncePerProcess(line: string): void {
  const key = Symbol.for('@svelte-dev/session/test/skip-lines');
  const host = vm.runInThisContext('process') as NodeJS.Process & { [key: symbol]: Set<string> | undefined };
  const printed = (host[key] ??= new Set());
  if (printed.has(line)) return;
  printed.add(line);
  host.stderr.write(`${line}\n`);
}

/** A TCP port of 127.0.0.1 that was free a moment ago (listen on port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
