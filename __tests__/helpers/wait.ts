/** Polling for browser tests: what a page shows changes after navigations and scripts run. */
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a check waits for something to show on a page. */
export const WAIT_MS = 5_000;

/**
 * Polls `read()` until `ok()` holds, for at most WAIT_MS. Errors while a page navigates
 * ("execution context was destroyed") count as "not yet"; the last one is in the failure message.
 */
export async function waitFor<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let last: { value?: T; error?: unknown } = {};
  for (;;) {
    try {
      const value = await read();
      if (ok(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() > deadline) {
      const seen = 'error' in last ? `an error: ${String(last.error)}` : JSON.stringify(last.value);
      throw new Error(`${what}: waited ${WAIT_MS} ms, last saw ${seen}`);
    }
    await sleep(50);
  }
}
