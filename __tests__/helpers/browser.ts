/**
 * Chromium for browser tests, driven with playwright-core (the library only: no test runner, no
 * browser download). The browser is Debian's `chromium` (`apt-get install chromium`), found on
 * PATH; `SESSION_TEST_CHROMIUM` points at another binary instead, and setting it to a path that
 * does not exist is how the "not installed" paths of `describeBrowser()` are exercised on a
 * machine that has Chromium.
 *
 * Never run `npx playwright install`: these tests use the system's browser.
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import type { Browser } from 'playwright-core';

const NOT_INSTALLED = 'chromium is not installed: apt-get install chromium';
const SKIP_LINE = 'Skipping browser tests: chromium is not installed (apt-get install chromium).';

/**
 * Headless, and nothing that talks to Google or needs a GPU or a sandbox (containers often
 * forbid the namespaces the sandbox needs). Playwright adds its own fresh `--user-data-dir` (a
 * temp dir it removes on close) and `--remote-debugging-pipe`.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic'
];

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

/** `SESSION_TEST_CHROMIUM` when set (even to a path that does not exist), else `chromium` on PATH. */
export function chromiumPath(): string | undefined {
  const override = process.env.SESSION_TEST_CHROMIUM;
  if (override !== undefined && override !== '') return isExecutable(override) ? override : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, 'chromium');
    if (isExecutable(file)) return file;
  }
  return undefined;
}

/**
 * `describe()` for tests that need Chromium, like `describeRedis()`: without the browser the
 * tests are skipped on a developer's machine (with one line on stderr per process, so the skip is
 * not silent), but on CI (`CI=true`) they fail: a CI image that lost its browser must not turn
 * the browser tests green by skipping them.
 */
export function describeBrowser(name: string, body: () => void): void {
  if (chromiumPath()) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs chromium', () => {
        throw new Error(NOT_INSTALLED);
      });
    });
  } else {
    warnSkipOnce();
    describe.skip(name, body);
  }
}

/**
 * Once per Jest process, not per test file: Jest gives each file its own `process` and module
 * registry, so the flag lives on the real process (the global of Node's main context).
 */
function warnSkipOnce(): void {
  const key = Symbol.for('@svelte-dev/session/test/browser-skip-warned');
  const host = vm.runInThisContext('process') as NodeJS.Process & { [key: symbol]: boolean | undefined };
  if (host[key]) return;
  host[key] = true;
  host.stderr.write(`${SKIP_LINE}\n`);
}

/** Launches headless Chromium (see CHROMIUM_ARGS). Close it with `browser.close()`. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(NOT_INSTALLED);
  // Loaded here, not at the top: a run that skips the browser tests does not load Playwright.
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30_000 });
}
