// What handleSession puts on event.locals, for the tests' own hooks (as an app's src/app.d.ts does).
import type { SessionStorage } from '../src/session.js';

declare global {
  namespace App {
    interface Locals {
      session: SessionStorage;
      cookies: Record<string, string | undefined>;
    }
  }
}

export {};
