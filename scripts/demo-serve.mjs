// Serves a SvelteKit app built with adapter-node (examples/demo/build, or a copy of the demo built
// elsewhere) over plain HTTP on loopback: adapter-node's "custom server", which imports
// build/handler.js and hands it the requests of its own node:http server.
//
// Why not `node build/index.js`: without ORIGIN, adapter-node takes every request as
// https://<Host>, and SvelteKit's CSRF check then refuses the form posts of a browser at
// http://localhost:3000 (403, "Cross-site POST form submissions are forbidden"). ORIGIN would fix
// one address only (http://127.0.0.1:3000 would still fail). This server knows it speaks plain
// HTTP, and says so to the handler on every request through the protocol header: each request is
// then taken as http://<the Host the browser used>, and the browser's Origin matches it, at
// localhost and at 127.0.0.1 alike. A client cannot pretend to be https: the header is
// overwritten on every request.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The header this server sets on every request; handler.js reads its name at import time. */
const PROTOCOL_HEADER = 'x-forwarded-proto';

/**
 * Starts serving `dir`/build. Resolves once every address listens, with the port and a `close()`
 * that shuts down as adapter-node's own server does (requests in flight finish, then
 * 'sveltekit:shutdown' is emitted so that the app can close its connections, e.g. to Redis).
 *
 * @param {{ dir: string, port?: number | string, host?: string }} options
 *   `host`: one address to listen on; by default 127.0.0.1 and ::1 (loopback only: the demo
 *   signs with a well-known secret unless SESSION_SECRET is set).
 */
export async function serve({ dir, port = 3000, host }) {
  // adapter-node reads these when handler.js is imported. ORIGIN (and a host or port header a
  // client could send) would override what the request says; the demo has no proxy in front.
  process.env.PROTOCOL_HEADER = PROTOCOL_HEADER;
  delete process.env.ORIGIN;
  delete process.env.HOST_HEADER;
  delete process.env.PORT_HEADER;
  const { handler } = await import(pathToFileURL(path.join(dir, 'build', 'handler.js')).href);

  /** @type {http.Server[]} */
  const servers = [];
  let shuttingDown = false;

  /** @type {http.RequestListener} */
  const listener = (req, res) => {
    req.headers[PROTOCOL_HEADER] = 'http';
    if (shuttingDown) res.shouldKeepAlive = false;
    // A connection that goes idle while we shut down is closed at once, not at its timeout.
    res.once('close', () => shuttingDown && servers.forEach((s) => s.closeIdleConnections()));
    handler(req, res, () => {
      res.statusCode = 404;
      res.end('Not found');
    });
  };

  const listen = (address, wanted) =>
    new Promise((resolve, reject) => {
      const server = http.createServer(listener);
      server.once('error', reject);
      server.listen({ host: address, port: Number(wanted) }, () => {
        server.off('error', reject);
        servers.push(server);
        resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port);
      });
    });

  const addresses = host ? [host] : ['127.0.0.1', '::1'];
  let actual = Number(port);
  for (const [i, address] of addresses.entries()) {
    try {
      // With PORT=0 the first address picks a port and the others take the same.
      actual = await listen(address, i === 0 ? port : actual);
    } catch (error) {
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      // A machine without IPv6: 127.0.0.1 is enough (browsers fall back to it for localhost).
      if (i > 0 && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) continue;
      for (const server of servers) server.close();
      if (code === 'EADDRINUSE') {
        throw new Error(`Port ${port} is in use on ${address}. Choose another one: PORT=3001 npm run demo`);
      }
      throw error;
    }
  }
  const shown = servers.map((s) => {
    const { address } = /** @type {import('node:net').AddressInfo} */ (s.address());
    return `http://${address.includes(':') ? `[${address}]` : address}:${actual}`;
  });
  // The line the test helpers wait for (as adapter-node's own server prints it).
  console.log(`Listening on ${shown.join(' and ')}`);

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    port: actual,
    /** @param {string} [reason] */
    close(reason = 'SIGTERM') {
      closing ??= new Promise((resolve) => {
        shuttingDown = true;
        let open = servers.length;
        const force = setTimeout(() => servers.forEach((s) => s.closeAllConnections()), 5_000);
        force.unref();
        for (const server of servers) {
          server.close(() => {
            if (--open > 0) return;
            clearTimeout(force);
            // What adapter-node's index.js emits once its server has closed: the demo closes its
            // Redis client on it.
            process.emit(/** @type {any} */ ('sveltekit:shutdown'), reason);
            resolve();
          });
          // Keep-alive connections that are idle now would hold close() up until they time out.
          server.closeIdleConnections();
        }
      });
      return closing;
    }
  };
}
