import type { SessionStorage } from '@svelte-dev/session';

/** What the demo keeps in a session. */
interface SessionData {
  views: number;
  user: { name: string; since: string };
  cart: Array<{ item: string; qty: number }>;
}

/** Flash values: shown once, on the next page that reads them. */
interface FlashData {
  message: string;
}

declare global {
  namespace App {
    interface Locals {
      session: SessionStorage<SessionData, FlashData>;
      cookies: Record<string, string | undefined>;
      /** The strategy serving this request (the demo's switch; see hooks.server.ts). */
      strategy: 'cookie' | 'memory' | 'redis';
    }
  }
}

export {};
