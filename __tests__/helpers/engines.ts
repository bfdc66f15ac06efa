/**
 * The three browser engines behind one small interface, for tests that must hold in each of them:
 *
 * - **Chromium**: Debian's `chromium`, driven by playwright-core (see browser.ts).
 * - **Firefox**: Debian's `firefox-esr`, driven by puppeteer-core over WebDriver BiDi. No
 *   geckodriver: puppeteer starts the real binary (`/usr/lib/firefox-esr/firefox-esr`) itself.
 * - **WebKit**: WebKitGTK's `WebKitWebDriver` (Debian's `webkit2gtk-driver`), started here under
 *   `xvfb-run` (MiniBrowser has no headless mode), driven by webdriverio over WebDriver Classic;
 *   its browser is WebKitGTK's MiniBrowser.
 *
 * None of them is downloaded: these are the system's browsers, and an engine whose binaries are
 * missing is skipped like the other system services (see `describeEngine`). The environment
 * variables SESSION_TEST_CHROMIUM, SESSION_TEST_FIREFOX and SESSION_TEST_WEBKIT_DRIVER point at
 * other binaries (a path that does not exist: "not installed").
 *
 * The interface has just what the demo checks need: a `Tab` is one check's page in its own clean
 * cookie jar (a Playwright context, a Firefox user context, a WebDriver session: a new MiniBrowser).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import vm from 'node:vm';
import { chromiumPath, launchChromium } from './browser.js';
import { describeWithService, findBinary, freePort } from './system-service.js';

export type EngineName = 'chromium' | 'firefox' | 'webkit';

/** A cookie as the browser holds it. */
export interface BrowserCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  /** As the engine reports it: 'Lax', 'Strict', 'None', or Firefox's 'Default' when unset. */
  sameSite: string | undefined;
}

export interface TabOptions {
  /** @default true. false: a browser with JavaScript off (see each engine for how). */
  javaScript?: boolean;
}

/** One page in a clean cookie jar of its own. */
export interface Tab {
  /** Navigates to `url` and waits for its load event. */
  goto(url: string): Promise<void>;
  /** Reloads and waits for the load event. */
  reload(): Promise<void>;
  url(): Promise<string>;
  /** Clicks the first element matching `selector` (a navigation it starts is not waited for). */
  click(selector: string): Promise<void>;
  /** Sets the value of the form field `selector`, as typing would (an `input` event follows). */
  fill(selector: string, value: string): Promise<void>;
  /** The text of the first element matching `selector`, whitespace collapsed; undefined if none. */
  text(selector: string): Promise<string | undefined>;
  /** The cookies the browser holds that it would send to the current page's URL. */
  cookies(): Promise<BrowserCookie[]>;
  /**
   * Gives the cookie `name` of the current page's host (host-only, path /) the value `value`,
   * replacing the one the browser holds (keeping its HttpOnly and SameSite), or adding one.
   */
  setCookie(name: string, value: string): Promise<void>;
  close(): Promise<void>;
}

export interface EngineBrowser {
  readonly engine: EngineName;
  /** The engine's version as it reports it (e.g. "156.0.8078.114", "firefox/153.8.0", "WebKitGTK 2.50.6"). */
  readonly version: string;
  /** A page in a fresh cookie jar. WebKit has one tab open at a time: close it before the next. */
  open(options?: TabOptions): Promise<Tab>;
  /** Closes every tab and the browser (and for WebKit its driver and Xvfb). Idempotent. */
  close(): Promise<void>;
}

export interface Engine {
  readonly name: EngineName;
  /** Shown in test names: 'Chromium', 'Firefox', 'WebKit'. */
  readonly title: string;
  /** The Debian packages it needs. */
  readonly packages: string[];
  /** What is missing, if anything ('' when it can run). */
  missing(): string;
  launch(): Promise<EngineBrowser>;
}

/** `describe()` for tests that need `engine`; skipped (or failing with CI=true) without it. */
export function describeEngine(engine: Engine, name: string, body: () => void): void {
  const missing = engine.missing();
  const install = `apt-get install ${engine.packages.join(' ')}`;
  describeWithService(
    {
      installed: missing === '',
      testName: `needs ${engine.title}`,
      notInstalled: `${missing}: ${install}`,
      skipLine: `Skipping ${engine.title} browser tests: ${missing} (${install}).`
    },
    name,
    body
  );
}

const collapse = (text: string | null | undefined) => (text ?? '').replace(/\s+/g, ' ').trim();

/** The host of a URL, as cookies match it (ports do not count). */
const hostOf = (url: string) => new URL(url).hostname;

/** Whether a cookie of `domain` and `path` goes to `url` (domain match, path prefix). */
function appliesTo(cookie: { domain: string; path: string }, url: string): boolean {
  const { hostname, pathname } = new URL(url);
  const domain = cookie.domain.replace(/^\./, '');
  const domainOk = hostname === domain || hostname.endsWith(`.${domain}`);
  const p = cookie.path || '/';
  const pathOk = pathname === p || pathname.startsWith(p.endsWith('/') ? p : `${p}/`);
  return domainOk && pathOk;
}

// ---------------------------------------------------------------------------------------------
// Chromium: playwright-core, a browser context per tab
// ---------------------------------------------------------------------------------------------

export const chromium: Engine = {
  name: 'chromium',
  title: 'Chromium',
  packages: ['chromium'],
  missing: () => (chromiumPath() ? '' : 'chromium is not installed'),
  async launch() {
    const browser = await launchChromium();
    const contexts = new Set<import('playwright-core').BrowserContext>();
    let closing: Promise<void> | undefined;
    return {
      engine: 'chromium',
      version: browser.version(),
      async open({ javaScript = true } = {}) {
        const context = await browser.newContext({ javaScriptEnabled: javaScript });
        contexts.add(context);
        context.setDefaultTimeout(5_000);
        context.setDefaultNavigationTimeout(10_000);
        const page = await context.newPage();
        return {
          async goto(url) {
            await page.goto(url, { waitUntil: 'load' });
          },
          async reload() {
            await page.reload({ waitUntil: 'load' });
          },
          url: async () => page.url(),
          async click(selector) {
            await page.click(selector);
          },
          async fill(selector, value) {
            await page.fill(selector, value);
          },
          async text(selector) {
            const locator = page.locator(selector);
            if ((await locator.count()) === 0) return undefined;
            return collapse(await locator.first().textContent({ timeout: 1_000 }));
          },
          async cookies() {
            const all = await context.cookies(page.url());
            return all.map(({ name, value, domain, path, secure, httpOnly, sameSite }) => ({ name, value, domain, path, secure, httpOnly, sameSite }));
          },
          async setCookie(name, value) {
            const url = page.url();
            const old = (await context.cookies(url)).find((c) => c.name === name && c.path === '/' && c.domain === hostOf(url));
            await context.clearCookies({ name, domain: hostOf(url), path: '/' });
            // A domain without a leading dot: a host-only cookie, like one the server sets.
            await context.addCookies([
              { name, value, domain: hostOf(url), path: '/', httpOnly: old?.httpOnly ?? false, secure: old?.secure ?? false, sameSite: old?.sameSite ?? 'Lax' }
            ]);
          },
          async close() {
            contexts.delete(context);
            await context.close().catch(() => {});
          }
        };
      },
      close() {
        closing ??= (async () => {
          await Promise.all([...contexts].map((c) => c.close().catch(() => {})));
          await browser.close();
        })();
        return closing;
      }
    };
  }
};

// ---------------------------------------------------------------------------------------------
// Firefox: puppeteer-core over WebDriver BiDi, a user context per tab
// ---------------------------------------------------------------------------------------------

/** Where Debian's firefox-esr package puts the real binary (/usr/bin/firefox-esr links to it). */
const FIREFOX_ESR = '/usr/lib/firefox-esr/firefox-esr';

/** The Firefox binary: SESSION_TEST_FIREFOX when set, else firefox-esr's real binary (not a wrapper script). */
export function firefoxPath(): string | undefined {
  const override = process.env.SESSION_TEST_FIREFOX;
  if (override !== undefined && override !== '') return findBinary('firefox', override);
  const candidates = [findBinary('firefox', FIREFOX_ESR), findBinary('firefox-esr', undefined)];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const real = fs.realpathSync(candidate);
    // puppeteer must start Firefox itself, not a shell script that starts it.
    const head = Buffer.alloc(2);
    const fd = fs.openSync(real, 'r');
    try {
      fs.readSync(fd, head, 0, 2, 0);
    } finally {
      fs.closeSync(fd);
    }
    if (head.toString('latin1') !== '#!') return real;
  }
  return undefined;
}

export const firefox: Engine = {
  name: 'firefox',
  title: 'Firefox',
  packages: ['firefox-esr'],
  missing: () => (firefoxPath() ? '' : 'firefox-esr is not installed'),
  async launch() {
    const executablePath = firefoxPath();
    if (!executablePath) throw new Error('firefox-esr is not installed: apt-get install firefox-esr');
    const { default: puppeteer } = await import('puppeteer-core');
    type PBrowser = import('puppeteer-core').Browser;
    const start = (prefs: Record<string, unknown> = {}) =>
      puppeteer.launch({ browser: 'firefox', executablePath, headless: true, timeout: 30_000, extraPrefsFirefox: prefs });
    const browser = await start();
    // Firefox has no per-page switch for JavaScript over BiDi (puppeteer's setJavaScriptEnabled
    // needs emulation.setScriptingEnabled, which Firefox 153 ESR answers "unknown command"): tabs
    // without JavaScript come from a second Firefox with the javascript.enabled pref off, started
    // the first time one is asked for.
    let noScript: Promise<PBrowser> | undefined;
    const contexts = new Set<import('puppeteer-core').BrowserContext>();
    let closing: Promise<void> | undefined;
    return {
      engine: 'firefox',
      version: await browser.version(),
      async open({ javaScript = true } = {}) {
        const owner = javaScript ? browser : await (noScript ??= start({ 'javascript.enabled': false }));
        const context = await owner.createBrowserContext();
        contexts.add(context);
        const page = await context.newPage();
        page.setDefaultTimeout(5_000);
        page.setDefaultNavigationTimeout(10_000);
        return {
          async goto(url) {
            await page.goto(url, { waitUntil: 'load' });
          },
          async reload() {
            await page.reload({ waitUntil: 'load' });
          },
          url: async () => page.url(),
          async click(selector) {
            if (javaScript) {
              await page.click(selector);
            } else {
              // With javascript.enabled off, puppeteer's mouse click hangs until the navigation it
              // starts closes the page's realm (Firefox 153 ESR, puppeteer-core 24): focus the
              // element and press Enter instead, real key input that activates a button or link.
              await page.focus(selector);
              await page.keyboard.press('Enter');
            }
          },
          // In the page rather than typed: key events over BiDi can be lost while the page hydrates.
          async fill(selector, value) {
            const found = await page.$eval(
              selector,
              (element, text) => {
                const input = element as HTMLInputElement;
                input.focus();
                input.value = text;
                input.dispatchEvent(new Event('input', { bubbles: true }));
                input.dispatchEvent(new Event('change', { bubbles: true }));
                return input.value;
              },
              value
            );
            if (found !== value) throw new Error(`${selector} took ${JSON.stringify(found)}, not ${JSON.stringify(value)}`);
          },
          async text(selector) {
            const element = await page.$(selector);
            if (!element) return undefined;
            try {
              return collapse(await element.evaluate((e) => e.textContent));
            } finally {
              await element.dispose();
            }
          },
          async cookies() {
            const url = page.url();
            const all = await context.cookies();
            return all
              .filter((c) => appliesTo(c, url))
              .map(({ name, value, domain, path, secure, httpOnly, sameSite }) => ({ name, value, domain, path, secure, httpOnly: httpOnly ?? false, sameSite }));
          },
          async setCookie(name, value) {
            const url = page.url();
            const host = hostOf(url);
            const old = (await context.cookies()).find((c) => c.name === name && c.path === '/' && c.domain.replace(/^\./, '') === host);
            await context.deleteMatchingCookies({ name, domain: host, path: '/' });
            await context.setCookie({
              name,
              value,
              domain: host,
              path: '/',
              httpOnly: old?.httpOnly ?? false,
              secure: old?.secure ?? false,
              ...(old?.sameSite && old.sameSite !== ('Default' as string) ? { sameSite: old.sameSite } : {})
            });
          },
          async close() {
            contexts.delete(context);
            await context.close().catch(() => {});
          }
        };
      },
      close() {
        closing ??= (async () => {
          await Promise.all([...contexts].map((c) => c.close().catch(() => {})));
          const second = noScript ? await noScript.catch(() => undefined) : undefined;
          await Promise.all([browser.close(), second?.close()]);
        })();
        return closing;
      }
    };
  }
};

// ---------------------------------------------------------------------------------------------
// WebKit: WebKitWebDriver under Xvfb, webdriverio over WebDriver Classic, a session per tab
// ---------------------------------------------------------------------------------------------

/** WebKitGTK's MiniBrowser (in libwebkit2gtk-4.1-0, which webkit2gtk-driver depends on). */
export function miniBrowserPath(): string | undefined {
  const lib = '/usr/lib';
  const dirs = fs.existsSync(lib) ? fs.readdirSync(lib).filter((d) => d.endsWith('-linux-gnu')) : [];
  for (const dir of dirs) {
    const file = path.join(lib, dir, 'webkit2gtk-4.1', 'MiniBrowser');
    if (findBinary('MiniBrowser', file)) return file;
  }
  return undefined;
}

export const webkit: Engine = {
  name: 'webkit',
  title: 'WebKit',
  packages: ['webkit2gtk-driver', 'xvfb', 'xauth'],
  missing() {
    const gone = [
      !findBinary('WebKitWebDriver', process.env.SESSION_TEST_WEBKIT_DRIVER) && 'WebKitWebDriver',
      !miniBrowserPath() && 'MiniBrowser',
      !findBinary('xvfb-run', undefined) && 'xvfb-run',
      !findBinary('xauth', undefined) && 'xauth'
    ].filter(Boolean);
    return gone.length ? `${gone.join(', ')} ${gone.length === 1 ? 'is' : 'are'} not installed` : '';
  },
  async launch() {
    const driverPath = findBinary('WebKitWebDriver', process.env.SESSION_TEST_WEBKIT_DRIVER);
    const binary = miniBrowserPath();
    if (!driverPath || !binary || webkit.missing()) throw new Error(`${webkit.missing()}: apt-get install ${webkit.packages.join(' ')}`);
    const driver = await startWebKitDriver(driverPath);
    const { remote } = await import('webdriverio');
    type Session = Awaited<ReturnType<typeof remote>>;
    const sessions = new Set<Session>();

    const newSession = (javaScript: boolean) =>
      remote({
        hostname: '127.0.0.1',
        port: driver.port,
        logLevel: 'silent',
        connectionRetryCount: 0,
        capabilities: {
          browserName: 'MiniBrowser',
          'webkitgtk:browserOptions': {
            binary,
            // MiniBrowser takes WebKitSettings on its command line: that is how a session without
            // JavaScript is made.
            args: ['--automation', ...(javaScript ? [] : ['--enable-javascript=false'])]
          },
          'wdio:enforceWebDriverClassic': true
        } as WebdriverIO.Capabilities
      });

    let version: string;
    try {
      // One session to read the version (and to fail early if the driver cannot start a browser).
      const probe = await newSession(true);
      version = `WebKitGTK ${String(probe.capabilities.browserVersion)}`;
      await probe.deleteSession();
    } catch (error) {
      await driver.stop();
      throw new Error(`WebKitWebDriver could not start MiniBrowser: ${String(error)}\n${driver.output()}`);
    }

    let closing: Promise<void> | undefined;
    return {
      engine: 'webkit',
      version,
      async open({ javaScript = true } = {}) {
        // WebKitWebDriver runs one session at a time ("Maximum number of active sessions").
        if (sessions.size > 0) throw new Error('WebKit: close the open tab before opening another (WebKitWebDriver runs one session at a time)');
        const session = await newSession(javaScript);
        sessions.add(session);
        await session.setTimeout({ pageLoad: 10_000, script: 5_000 });
        // Waits for an element to be there; WebDriver's own lookup does not wait.
        const find = async (selector: string) => {
          const element = await session.$(selector);
          await element.waitForExist({ timeout: 5_000 });
          return element;
        };
        return {
          async goto(url) {
            await session.url(url);
          },
          async reload() {
            await session.refresh();
          },
          url: () => session.getUrl(),
          async click(selector) {
            await (await find(selector)).click();
          },
          async fill(selector, value) {
            const element = await find(selector);
            await element.clearValue();
            await element.setValue(value);
            const found = await element.getValue();
            if (found !== value) throw new Error(`${selector} took ${JSON.stringify(found)}, not ${JSON.stringify(value)}`);
          },
          async text(selector) {
            const found = await session.findElements('css selector', selector);
            if (found.length === 0) return undefined;
            const id = Object.values(found[0])[0] as string;
            // The DOM's text (as the other engines read it), not WebDriver's rendered text.
            const text = await session.getElementProperty(id, 'textContent');
            return collapse(String(text ?? ''));
          },
          async cookies() {
            const url = await session.getUrl();
            const all = await session.getAllCookies();
            return all
              .filter((c) => appliesTo({ domain: c.domain ?? hostOf(url), path: c.path ?? '/' }, url))
              .map((c) => ({
                name: c.name,
                value: c.value,
                domain: c.domain ?? hostOf(url),
                path: c.path ?? '/',
                secure: c.secure ?? false,
                httpOnly: c.httpOnly ?? false,
                sameSite: c.sameSite
              }));
          },
          async setCookie(name, value) {
            const old = (await session.getAllCookies()).find((c) => c.name === name && (c.path ?? '/') === '/');
            await session.deleteCookie(name);
            // No domain: WebDriver then makes a host-only cookie of the current page's host.
            await session.addCookie({
              name,
              value,
              path: '/',
              httpOnly: old?.httpOnly ?? false,
              secure: old?.secure ?? false,
              ...(old?.sameSite ? { sameSite: old.sameSite } : {})
            });
          },
          async close() {
            if (!sessions.delete(session)) return;
            await session.deleteSession().catch(() => {});
          }
        };
      },
      close() {
        closing ??= (async () => {
          await Promise.all([...sessions].map((s) => s.deleteSession().catch(() => {})));
          sessions.clear();
          await driver.stop();
        })();
        return closing;
      }
    };
  }
};

export const ENGINES: Engine[] = [chromium, firefox, webkit];

// ---------------------------------------------------------------------------------------------
// WebKitWebDriver as a child process
// ---------------------------------------------------------------------------------------------

interface DriverProcess {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

const drivers = new Set<ChildProcess>();
// A driver (and its Xvfb and MiniBrowsers) a failed run did not stop must not outlive it: the
// hook goes on the real process (Jest hands each file a copy of `process` whose 'exit' never fires).
(vm.runInThisContext('process') as NodeJS.Process).once('exit', () => {
  for (const child of drivers) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    // Its own process group (detached): xvfb-run, Xvfb, WebKitWebDriver and the browsers it started.
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** `xvfb-run -a WebKitWebDriver --port=N` on a free port; resolves once it answers /status. */
async function startWebKitDriver(driverPath: string): Promise<DriverProcess> {
  const port = await freePort();
  const child = spawn('xvfb-run', ['-a', driverPath, `--port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  drivers.add(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const stop = async () => {
    if (!drivers.delete(child)) return;
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    // xvfb-run's Xvfb and a MiniBrowser may still be ending: make sure the group is gone.
    killGroup(child, 'SIGKILL');
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (gone) {
      drivers.delete(child);
      throw new Error(`WebKitWebDriver exited before answering on port ${port}:\n${output}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/status`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`WebKitWebDriver did not answer on port ${port} within 20 s:\n${output}`);
    }
    await sleep(100);
  }
  return { port, output: () => output, stop };
}
