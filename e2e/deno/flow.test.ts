// The end-to-end flow in Deno, run twice by e2e/deno/run.mjs: once on src/ as is (Deno runs
// TypeScript with explicit .ts imports) and once on the built dist/, chosen by import map.
// The peers run in the Node process that spawned this one; their URLs come in env vars.
import assert from 'node:assert/strict';
import { FLOW_RENEW_BEFORE, independentThumbprint, runFlow } from '../snippets/flow.mjs';
import { createApi } from '../snippets/deno.ts';

function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set: run this suite through e2e/deno/run.mjs, which starts the peers`);
  return value;
}
const config = {
  tokenEndpoint: env('DPOP_E2E_TOKEN_ENDPOINT'),
  clientId: env('DPOP_E2E_CLIENT_ID'),
  clientSecret: env('DPOP_E2E_CLIENT_SECRET'),
};
const apiUrl = env('DPOP_E2E_API_URL');

Deno.test(`'dpop-fetch' is the build under test (${env('DPOP_E2E_BUILD')})`, () => {
  const expected = new URL(env('DPOP_E2E_BUILD') === 'src' ? '../../src/index.ts' : '../../dist/index.js', import.meta.url).href;
  assert.equal(import.meta.resolve('dpop-fetch'), expected);
});

Deno.test('key, token with nonce, API calls with nonce, renewal: every call 200, tokens bound to our key', async () => {
  const events: { type: string; server?: string; url?: string; renewal?: boolean }[] = [];
  const { api, keyPair } = await createApi(config, { renewBefore: FLOW_RENEW_BEFORE, onEvent: (e: (typeof events)[number]) => events.push(e) });
  assert.equal(keyPair.privateKey.extractable, false);
  const result = await runFlow(() => api(apiUrl));

  assert.deepEqual(result.calls.filter((c) => c.status !== 200), []);
  assert.equal(result.tokenIds.length, 2, 'the resource server accepted a renewed token');
  assert.deepEqual(result.jkts, [await independentThumbprint(keyPair.publicKey)]);
  assert.deepEqual(events.filter((e) => e.type === 'nonce-retry').slice(0, 2), [
    { type: 'nonce-retry', server: 'token', url: config.tokenEndpoint },
    { type: 'nonce-retry', server: 'resource', url: apiUrl },
  ]);
  assert.deepEqual(events.filter((e) => e.type === 'token').map((e) => e.renewal), [false, true]);
  assert.deepEqual(events.filter((e) => e.type === 'token-rejected'), []);
});
