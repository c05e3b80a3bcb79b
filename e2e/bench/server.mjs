// @ts-check
/**
 * A trivial HTTP server on 127.0.0.1 for the request benchmark: it accepts anything, so what
 * differs between two clients calling it is the clients' own cost. `POST /token` answers a
 * DPoP token; everything else answers `200 ok`. Every response carries the same `DPoP-Nonce`,
 * so proofs carry a nonce as they would against a real server. Keep-alive stays on.
 */
import * as http from 'node:http';
import { HOST, listen, stop } from '../loopback.mjs';

export const NONCE = 'bench-nonce-0123456789';

/** @returns {Promise<{ origin: string, tokenRequests: () => number, close: () => Promise<void> }>} */
export async function startTrivialServer() {
  let tokenRequests = 0;
  const server = http.createServer((req, res) => {
    const chunks = /** @type {Buffer[]} */ ([]);
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/token') {
        tokenRequests++;
        const body = JSON.stringify({ access_token: `bench.${'a'.repeat(700)}.token`, token_type: 'DPoP', expires_in: 3600 });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'dpop-nonce': NONCE, 'cache-control': 'no-store' });
        res.end(body);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2, 'dpop-nonce': NONCE });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 120_000;
  const port = await listen(server);
  return { origin: `http://${HOST}:${port}`, tokenRequests: () => tokenRequests, close: () => stop(server) };
}
