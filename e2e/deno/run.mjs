// @ts-check
// Runs the Deno suite against `src` (TypeScript as is) or `dist` (the built package):
//   node e2e/deno/run.mjs src|dist
// Deno cannot host oidc-provider, so this Node process starts the real peers on 127.0.0.1,
// hands their URLs to `deno test` in env vars, and waits. Deno writes a JUnit report to
// test-results/deno-<build>.xml, which e2e/run-all.mjs counts.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startPeers } from '../peers.mjs';
import { FLOW_PEERS } from '../snippets/flow.mjs';

const build = process.argv[2];
if (build !== 'src' && build !== 'dist') {
  console.error('usage: node e2e/deno/run.mjs src|dist');
  process.exit(2);
}
const root = fileURLToPath(new URL('../..', import.meta.url));
const junit = `test-results/deno-${build}.xml`;
const LIMIT_MS = 5 * 60_000;

await mkdir(new URL('../../test-results/', import.meta.url), { recursive: true });
const peers = await startPeers(FLOW_PEERS);
const args = [
  'deno',
  'test',
  '--allow-net=127.0.0.1',
  '--allow-env',
  `--import-map=e2e/deno/import-map.${build}.json`,
  // dist/ is plain JS whose .d.ts Deno does not pick up by itself; the src run type-checks.
  ...(build === 'dist' ? ['--no-check'] : []),
  '--reporter=pretty',
  `--junit-path=${junit}`,
  'e2e/deno/flow.test.ts',
];
console.log(`deno suite (${build}): npx ${args.join(' ')}`);
const code = await new Promise((resolve) => {
  const child = spawn('npx', args, {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      RUST_BACKTRACE: '0',
      NO_COLOR: '1',
      DPOP_E2E_BUILD: build,
      DPOP_E2E_TOKEN_ENDPOINT: peers.tokenEndpoint,
      DPOP_E2E_CLIENT_ID: peers.clientId,
      DPOP_E2E_CLIENT_SECRET: peers.clientSecret,
      DPOP_E2E_API_URL: peers.apiUrl,
    },
  });
  const timer = setTimeout(() => {
    console.error(`deno suite (${build}): no result after ${LIMIT_MS / 1000} s, stopping it`);
    child.kill('SIGTERM');
  }, LIMIT_MS);
  child.on('error', (err) => {
    console.error(`deno suite (${build}): could not start deno: ${err.message}`);
    clearTimeout(timer);
    resolve(127);
  });
  child.on('exit', (exitCode, signal) => {
    clearTimeout(timer);
    resolve(exitCode ?? (signal ? 128 : 1));
  });
});
await peers.close();
process.exitCode = Number(code);
