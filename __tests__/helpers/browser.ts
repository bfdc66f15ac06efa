/**
 * Chromium for browser tests, driven with playwright-core (the library only: no test runner, no
 * browser download). The browser is Debian's `chromium` (`apt-get install chromium`), found on
 * PATH; `SESSION_TEST_CHROMIUM` points at another binary instead, and setting it to a path that
 * does not exist is how the "not installed" paths of `describeBrowser()` are exercised on a
 * machine that has Chromium.
 *
 * Never run `npx playwright install`: these tests use the system's browser.
 */
import type { Browser } from 'playwright-core';
import { describeWithService, findBinary } from './system-service.js';

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

/** `SESSION_TEST_CHROMIUM` when set (even to a path that does not exist), else `chromium` on PATH. */
export function chromiumPath(): string | undefined {
  return findBinary('chromium', process.env.SESSION_TEST_CHROMIUM);
}

/** `describe()` for tests that need Chromium, like `describeRedis()` (see describeWithService). */
export function describeBrowser(name: string, body: () => void): void {
  describeWithService(
    { installed: chromiumPath() !== undefined, testName: 'needs chromium', notInstalled: NOT_INSTALLED, skipLine: SKIP_LINE },
    name,
    body
  );
}

/** Launches headless Chromium (see CHROMIUM_ARGS). Close it with `browser.close()`. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(NOT_INSTALLED);
  // Loaded here, not at the top: a run that skips the browser tests does not load Playwright.
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30_000 });
}
