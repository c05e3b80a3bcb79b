// @ts-check
/**
 * Starting and stopping a test server on 127.0.0.1, port 0, the only address tests use. Shared
 * by the peers, the browser suites' page servers and the benchmark's server.
 */
import * as http from 'node:http';

export const HOST = '127.0.0.1';

/**
 * Listens on 127.0.0.1 with a port the system picks.
 * @param {http.Server} server
 * @returns {Promise<number>} the port
 */
export function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      server.off('error', reject);
      resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port);
    });
  });
}

/**
 * Stops listening and drops open connections.
 * @param {http.Server} server
 * @returns {Promise<void>}
 */
export function stop(server) {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets (fetch/undici pools, browsers) would otherwise hold close() open.
    server.closeAllConnections();
  });
}

/**
 * Serves `handler` on 127.0.0.1 until `close()`.
 * @param {http.RequestListener} handler
 * @returns {Promise<{ server: http.Server, origin: string, close(): Promise<void> }>}
 */
export async function serve(handler) {
  const server = http.createServer(handler);
  const port = await listen(server);
  return { server, origin: `http://${HOST}:${port}`, close: () => stop(server) };
}
