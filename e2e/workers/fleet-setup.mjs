// @ts-check
// Runs in Node before the workerd fleet tests (e2e/workers/fleet.test.ts): starts the real peers
// on 127.0.0.1, makes the fleet's key (one PEM for every Worker, as one secret would be), bundles
// the README's fleet Worker (e2e/snippets/fleet-worker.ts) from the built package as wrangler
// would (esbuild, one ES module), and serves what the peers saw on 127.0.0.1 so that the tests,
// inside workerd, can ask how many tokens were issued.
import { generateKeyPairSync } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { calculateJwkThumbprint } from 'jose';
import { serve } from '../loopback.mjs';
import { startPeers } from '../peers.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** @param {import('vitest/node').TestProject} project */
export default async function setup(project) {
  const stats = { tokenRequests: 0, tokensIssued: 0, apiRequests: 0 };
  const peers = await startPeers({
    onExchange(exchange) {
      if (exchange.method === 'OPTIONS') return;
      if (exchange.server === 'rs') stats.apiRequests++;
      else if (new URL(exchange.url).pathname === '/token') {
        stats.tokenRequests++;
        if (exchange.status === 200) stats.tokensIssued++;
      }
    },
  });
  const statsServer = await serve((req, res) => {
    if (req.method === 'POST') Object.assign(stats, { tokenRequests: 0, tokensIssued: 0, apiRequests: 0 });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
  });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const script = `${root}.tmp/workers/fleet-worker.mjs`;
  await mkdir(`${root}.tmp/workers`, { recursive: true });
  await esbuild.build({ entryPoints: [`${root}e2e/snippets/fleet-worker.ts`], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', outfile: script, absWorkingDir: root, logLevel: 'warning' });

  project.provide('tokenEndpoint', peers.tokenEndpoint);
  project.provide('clientId', peers.clientId);
  project.provide('clientSecret', peers.clientSecret);
  project.provide('apiOrigin', new URL(peers.apiUrl).origin);
  project.provide('apiPath', new URL(peers.apiUrl).pathname);
  project.provide('dpopKey', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  project.provide('jkt', await calculateJwkThumbprint(/** @type {import('jose').JWK} */ (publicKey.export({ format: 'jwk' }))));
  project.provide('statsUrl', statsServer.origin);
  project.provide('fleetScript', script);
  return async () => {
    await statsServer.close();
    await peers.close();
  };
}
