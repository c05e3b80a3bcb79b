// denoKvStore (src/store/deno-kv.ts) in real Deno (`deno run --unstable-kv`), on a real KV file
// shared by two Deno processes: the contract suite drives both, so every lock test is two
// processes contending on one SQLite-backed Deno KV. A third process dies holding the lock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDenoKvInstance, type DenoKvInstance } from '../support/deno-kv-instance.ts';
import { storeContract } from './contract.ts';

let dir: string;
let kvFile: string;
let one: DenoKvInstance;
let two: DenoKvInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpop-fetch-denokv-'));
  kvFile = join(dir, 'kv.sqlite3');
  [one, two] = await Promise.all([startDenoKvInstance(kvFile, dir), startDenoKvInstance(kvFile, dir)]);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([one?.kill(), two?.kill()]);
  rmSync(dir, { recursive: true, force: true });
});

storeContract('denoKvStore (two Deno processes, one KV file)', () => ({ a: one.store, b: two.store }), { lock: true });

describe('denoKvStore: instances that come and go', () => {
  it('two processes are two processes', () => {
    expect(one.pid).not.toBe(two.pid);
  });

  it('a process that dies holding the lock keeps it taken until its TTL, then another takes it', async () => {
    const doomed = await startDenoKvInstance(kvFile, dir);
    expect(await doomed.store.lock('dead-holder', 1.5)).toBeTypeOf('function');
    await doomed.kill('SIGKILL');
    expect(await one.store.lock('dead-holder', 30)).toBeNull(); // its holder is dead, but the lock holds
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await two.store.lock('dead-holder', 30)).toBeTypeOf('function'); // freed by its TTL
  });

  it('what one process wrote outlives it: a new process reads it from the file', async () => {
    const writer = await startDenoKvInstance(kvFile, dir);
    await writer.store.set('lasting', 'from a process now gone', 60);
    await writer.kill();
    const reader = await startDenoKvInstance(kvFile, dir);
    try {
      expect(await reader.store.get('lasting')).toBe('from a process now gone');
    } finally {
      await reader.kill();
    }
  });
});
