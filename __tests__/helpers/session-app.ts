import type { Handle } from '@sveltejs/kit';
import { container as root } from 'tsyringe';
import { handleSession } from '../../src/handle.js';
import { Tokens } from '../../src/tokens.js';
import type { SessionHook, HandleSessionOptions } from '../../src/types.js';
import { FakeClock } from './fakes.js';
import { Browser, loadKitApp, type KitApp } from './kit-app.js';

export const SECRET = 'contract-test-secret-0123456789abcdef';

export interface SessionApp {
  app: KitApp;
  clock: FakeClock;
  browser: (origin?: string) => Browser;
  /** What handleSession returned: the Handle, with destroyUserSessions(). */
  handle: SessionHook;
  /** The child container the test handed to handleSession (register doubles on it first). */
  services: ReturnType<typeof root.createChildContainer>;
}

/**
 * The fixture SvelteKit app with `handleSession(options, inner)` installed as its handle, a fake
 * clock registered the way a user would, and a fresh container per call.
 */
export async function sessionApp(
  options: HandleSessionOptions = {},
  inner?: Handle,
  register?: (services: SessionApp['services']) => void,
  platform?: App.Platform
): Promise<SessionApp> {
  const app = await loadKitApp();
  const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
  const services = root.createChildContainer();
  services.register(Tokens.Clock, { useValue: clock });
  register?.(services);
  const handle = handleSession(
    { ...options, session: { secrets: [SECRET], ...options.session }, container: services },
    inner
  );
  app.useHandle(handle);
  app.usePlatform(platform);
  app.clearErrors();
  return { app, clock, services, handle, browser: (origin) => new Browser(app, { origin }) };
}

/** The Set-Cookie headers of a response that concern the session cookie `name` (and its chunks). */
export function sessionCookies(response: Response, name = '__sid'): string[] {
  return response.headers.getSetCookie().filter((h) => h.startsWith(`${name}=`) || h.startsWith(`${name}.`));
}
