// A fleet on Deno KV (issue 15): two `deno run --unstable-kv` processes on one KV file, each
// running the README's Deno snippet with one PEM, started together against the real peers (in a
// Node process of their own, which counts every exchange). The authorization server says how
// many tokens it issued; the resource server, the cnf.jkt of every token it accepted.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../support/child.ts';
import { startPeersProcess, type PeersProcess } from '../support/peers-process.ts';

const deno = join(root, 'node_modules/.bin/deno'); // the binary itself, so that its PID is Deno's
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const JKT = await jose.calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as jose.JWK);

interface DenoInstance {
  child: ChildProcess;
  /** Lines it printed, as they come. */
  lines: AsyncIterator<string>;
}

let peers: PeersProcess;
let dir: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  peers = await startPeersProcess();
  dir = mkdtempSync(join(tmpdir(), 'dpop-fetch-denokv-fleet-'));
}, 60_000);
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  await peers?.close();
  rmSync(dir, { recursive: true, force: true });
});

function startInstance(kvFile: string, calls: number): DenoInstance {
  const { tokenEndpoint, clientId, clientSecret, apiUrl } = peers.peers;
  const child = spawn(
    deno,
    ['run', '--quiet', '--check', '--unstable-kv', '--allow-net=127.0.0.1', '--allow-env=DPOP_KEY,DPOP_FLEET', `--allow-read=${root},${dir}`, `--allow-write=${dir}`, '--import-map=e2e/deno/import-map.src.json', 'test/sharing/deno-kv.fleet.child.ts', kvFile],
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1', DPOP_KEY: PEM, DPOP_FLEET: JSON.stringify({ tokenEndpoint, clientId, clientSecret, apiUrl, calls }) } },
  );
  children.push(child);
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
}

async function line(instance: DenoInstance): Promise<string> {
  const { value, done } = await instance.lines.next();
  if (done) throw new Error('a Deno instance ended without a word');
  return value;
}

describe('two Deno processes on one KV file, one PEM', () => {
  it('started together → 1 token issued in all; every request 200 with a token bound to the shared key', async () => {
    const kvFile = join(dir, 'kv.sqlite3');
    const pair = [startInstance(kvFile, 3), startInstance(kvFile, 3)];
    for (const instance of pair) expect(await line(instance)).toBe('ready');
    await peers.reset();
    for (const { child } of pair) child.stdin!.write('go\n');
    const results = (await Promise.all(pair.map(async (instance) => JSON.parse(await line(instance))))).flat() as Array<{ status: number; jti?: string; jkt?: string }>;
    const stats = await peers.stats();
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(stats.tokensIssued).toBe(1);
    expect(new Set(results.map((r) => r.jkt))).toEqual(new Set([JKT]));
    expect(new Set(results.map((r) => r.jti)).size).toBe(1);
    console.log(`Deno KV, 2 processes: ${stats.tokensIssued} token issued, ${stats.tokenRequests} token round trips, ${stats.apiRequests} API round trips for 6 requests`);
  }, 60_000);
});
