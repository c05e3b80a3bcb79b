// The Cloudflare Workers suite, two projects in workerd through @cloudflare/vitest-pool-workers:
// - flow: the README's Worker (e2e/snippets/worker.ts) importing the built package (dist/),
//   calling the real peers that global-setup.mjs starts in Node;
// - store: the dpop-fetch/store adapters on real KV and Durable Object bindings, with a second
//   Worker (store-host.mjs, its own isolate) hosting the Durable Object and contending for it;
// - fleet: the README's fleet Worker (e2e/snippets/fleet-worker.ts) as four Workers, each in its
//   own isolate: two on one Durable Object, two on one KV namespace (fleet-setup.mjs bundles it).
// Run: npx vitest run --config e2e/workers/vitest.config.ts
import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The newest date this workerd accepts; newer ones are refused.
const compatibilityDate = '2026-05-03';
const resolve = {
  alias: {
    'dpop-fetch/store': `${root}dist/store/index.js`,
    'dpop-fetch': `${root}dist/index.js`,
  },
};

export default defineConfig({
  root,
  test: {
    projects: [
      {
        root,
        resolve,
        plugins: [
          cloudflareTest(({ inject }) => ({
            main: './e2e/snippets/worker.ts',
            miniflare: {
              compatibilityDate,
              bindings: {
                TOKEN_ENDPOINT: inject('tokenEndpoint'),
                CLIENT_ID: inject('clientId'),
                CLIENT_SECRET: inject('clientSecret'),
                API_ORIGIN: inject('apiOrigin'),
                API_PATH: inject('apiPath'),
              },
            },
          })),
        ],
        test: {
          name: 'flow',
          include: ['e2e/workers/flow.test.ts'],
          globalSetup: ['e2e/workers/global-setup.mjs'],
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
      {
        root,
        resolve,
        plugins: [
          cloudflareTest({
            main: './e2e/workers/store-main.ts',
            miniflare: {
              compatibilityDate,
              kvNamespaces: { KV: 'dpop-store-kv' },
              durableObjects: {
                LOCAL_STORE: 'DPoPStoreObject', // the class exported by store-main.ts, in the tests' isolate
                STORE: { className: 'DPoPStoreObject', scriptName: 'store-host' },
              },
              serviceBindings: { HOST: 'store-host' },
              workers: [
                {
                  name: 'store-host',
                  modules: true,
                  modulesRoot: root,
                  scriptPath: `${root}e2e/workers/store-host.mjs`,
                  modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }], // dist/ is ESM
                  compatibilityDate,
                  kvNamespaces: { KV: 'dpop-store-kv' },
                  durableObjects: { STORE: 'DPoPStoreObject' },
                },
              ],
            },
          }),
        ],
        test: {
          name: 'store',
          include: ['e2e/workers/store.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
      {
        root,
        resolve,
        plugins: [
          cloudflareTest(({ inject }) => {
            const bindings = {
              TOKEN_ENDPOINT: inject('tokenEndpoint'),
              CLIENT_ID: inject('clientId'),
              CLIENT_SECRET: inject('clientSecret'),
              API_ORIGIN: inject('apiOrigin'),
              DPOP_KEY: inject('dpopKey'),
            };
            // One fleet Worker: its own name, so its own isolate and module state.
            const fleetWorker = (name: string, store: Record<string, unknown>) => ({ name, modules: true, scriptPath: inject('fleetScript'), compatibilityDate, bindings, ...store });
            return {
              main: './e2e/workers/fleet-main.ts',
              miniflare: {
                compatibilityDate,
                bindings: { STATS_URL: inject('statsUrl'), API_PATH: inject('apiPath'), JKT: inject('jkt') },
                serviceBindings: { DO_A: 'fleet-do-a', DO_B: 'fleet-do-b', KV_A: 'fleet-kv-a', KV_B: 'fleet-kv-b' },
                workers: [
                  fleetWorker('fleet-do-a', { durableObjects: { DPOP_STORE: 'DPoPStoreObject' } }),
                  fleetWorker('fleet-do-b', { durableObjects: { DPOP_STORE: { className: 'DPoPStoreObject', scriptName: 'fleet-do-a' } } }),
                  fleetWorker('fleet-kv-a', { kvNamespaces: { DPOP_KV: 'fleet-kv' } }),
                  fleetWorker('fleet-kv-b', { kvNamespaces: { DPOP_KV: 'fleet-kv' } }),
                ],
              },
            };
          }),
        ],
        test: {
          name: 'fleet',
          include: ['e2e/workers/fleet.test.ts'],
          globalSetup: ['e2e/workers/fleet-setup.mjs'],
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
