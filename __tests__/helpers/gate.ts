import type { Handle } from '@sveltejs/kit';

/**
 * An inner handle that holds requests carrying `?hold` until `release()`, after their session
 * loaded: how tests interleave two requests of one session in a chosen order.
 */
export function gate() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  const handle: Handle = async ({ event, resolve }) => {
    if (event.url.searchParams.has('hold')) await opened;
    return resolve(event);
  };
  return { handle, release };
}
