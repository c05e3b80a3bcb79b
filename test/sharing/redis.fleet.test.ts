// A fleet on Redis (issue 15): 8 Node processes, each importing one PEM, half of them through
// node-redis and half through ioredis, on a real redis-server, against the real peers in a
// process of their own (oidc-provider + the oauth4webapi resource server), which count every
// exchange. The servers are the judges: how many tokens were issued and when, how many requests
// the API got, and the cnf.jkt of every token it accepted, against the thumbprint jose computes
// from the PEM.
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, root } from '../support/child.ts';
import { startPeersProcess, type PeersProcess } from '../support/peers-process.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

const INSTANCE = fileURLToPath(new URL('../support/fleet-instance.mjs', import.meta.url));
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const JKT = await jose.calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as jose.JWK);

interface Call {
  at: number;
  status: number;
  jti?: string;
  jkt?: string;
  error?: string;
}

interface Instance {
  child: ChildProcess;
  /** Calls the API once, then again every `pauseMs` until `until`; resolves with every call. */
  call(until?: number, pauseMs?: number): Promise<{ results: Call[]; events: Array<{ type: string; reason?: string }> }>;
  exit(): Promise<void>;
}

function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }) => m.type === type && (cleanup(), resolve(m as T));
    const onExit = (code: number | null) => (cleanup(), reject(new Error(`a fleet instance exited (${code}) before "${type}"`)));
    const cleanup = () => (child.off('message', onMessage), child.off('exit', onExit));
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Starts `n` instances, alternately on node-redis and ioredis; resolves when all are ready. */
async function startFleet(n: number, peers: PeersProcess, redis: RedisServer): Promise<Instance[]> {
  const { tokenEndpoint, clientId, clientSecret, scope, apiUrl } = peers.peers;
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const config = { redisUrl: redis.url, library: i % 2 ? 'ioredis' : 'node-redis', tokenEndpoint, clientId, clientSecret, scope, apiUrl };
      const child = fork(INSTANCE, [JSON.stringify(config)], { cwd: root, execArgv: [], env: { ...process.env, DPOP_KEY: PEM }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await message(child, 'ready');
      return {
        child,
        async call(until, pauseMs) {
          const done = message<{ results: Call[]; events: Array<{ type: string }> }>(child, 'done');
          child.send({ type: 'call', until, pauseMs });
          return done;
        },
        async exit() {
          if (child.exitCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.send({ type: 'exit' });
          await exited;
        },
      } satisfies Instance;
    }),
  );
}

let redis: RedisServer;
const fleets: Instance[][] = [];
beforeAll(async () => {
  await ensureBuilt();
  redis = await startRedis();
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(fleets.flat().map((i) => i.exit()));
  await redis?.stop();
});

describe('8 processes, one PEM, one Redis (node-redis and ioredis)', () => {
  let peers: PeersProcess;
  beforeAll(async () => {
    peers = await startPeersProcess();
  }, 60_000);
  afterAll(() => peers?.close());

  it('a cold start of 8 processes → exactly 1 token issued (2 token round trips: the nonce retry), every request 200, every token bound to the shared key', async () => {
    const fleet = await startFleet(8, peers, redis);
    fleets.push(fleet);
    await peers.reset();
    const calls = (await Promise.all(fleet.map((i) => i.call()))).flatMap((r) => r.results);
    const stats = await peers.stats();
    expect(calls.map((c) => c.status)).toEqual(Array(8).fill(200));
    expect(stats.tokensIssued).toBe(1);
    expect(stats.tokenRequests).toBe(2);
    expect(new Set(calls.map((c) => c.jkt))).toEqual(new Set([JKT]));
    expect(new Set(calls.map((c) => c.jti)).size).toBe(1); // one token, used by all
    console.log(`cold start of 8: ${stats.tokenRequests} token round trips, ${stats.apiRequests} API round trips`);
    expect(stats.apiRequests).toBeLessThanOrEqual(16);
  });

  it('a second wave of 8 new processes → 0 token requests, and each first request is 1 API round trip (the nonce is shared)', async () => {
    const fleet = await startFleet(8, peers, redis);
    fleets.push(fleet);
    await peers.reset();
    const calls = (await Promise.all(fleet.map((i) => i.call()))).flatMap((r) => r.results);
    const stats = await peers.stats();
    expect(calls.map((c) => c.status)).toEqual(Array(8).fill(200));
    expect(stats.tokenRequests).toBe(0);
    expect(stats.apiRequests).toBe(8);
    expect(new Set(calls.map((c) => c.jkt))).toEqual(new Set([JKT]));
    await Promise.all(fleets.flat().map((i) => i.exit()));
  });
});

describe('8 processes with 3-second tokens, Redis stopped mid-run and started again on its port', () => {
  let peers: PeersProcess;
  beforeAll(async () => {
    peers = await startPeersProcess({ accessTokenTTL: 3 });
  }, 60_000);
  afterAll(() => peers?.close());

  it('renewal → one token per expiry for the whole fleet; Redis down → zero failed requests; Redis back → sharing resumes', async () => {
    const fleet = await startFleet(8, peers, redis);
    fleets.push(fleet);
    await peers.reset();
    const start = Date.now();
    // 0-5 s: shared renewals. 5-8 s: Redis down. 8-20 s: Redis back: the clients reconnect
    // (ioredis within about half a second here), and each instance leaves the store alone for 5 s
    // after its last failure, then shares again.
    const DOWN = start + 5000;
    const UP = start + 8000;
    const END = start + 20_000;
    const running = Promise.all(fleet.map((i) => i.call(END, 100)));
    await new Promise((resolve) => setTimeout(resolve, DOWN - Date.now()));
    const { port } = redis;
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, UP - Date.now()));
    redis = await startRedis({ port });
    const outcome = await running;
    const calls = outcome.flatMap((r) => r.results);
    const stats = await peers.stats();

    // Zero failed requests, every token bound to the shared key.
    expect(calls.filter((c) => c.status !== 200)).toEqual([]);
    expect(new Set(calls.map((c) => c.jkt))).toEqual(new Set([JKT]));
    const issuedIn = (from: number, to: number) => stats.issuedAt.filter((t) => t >= from && t < to);
    // A 3-second token is renewed 1.25 s into its life (a quarter of it, plus a second's margin).
    // Shared: one token per renewal for the fleet, never two at once (8 instances alone: 8).
    const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);
    const shared = issuedIn(start, DOWN - 250);
    // At least two, so that a gap is measured: eight processes on a busy 2-core machine may
    // take a while to send their first request, which delays the first token, not the rule.
    expect(shared.length).toBeGreaterThanOrEqual(2);
    expect(shared.length).toBeLessThanOrEqual(5);
    expect(Math.min(...gaps(shared))).toBeGreaterThan(900);
    // Down: each instance renews on its own, and nothing fails.
    expect(issuedIn(DOWN + 1500, UP).length).toBeGreaterThan(2);
    // Back, once every instance has rested: one token per renewal again.
    const resumed = issuedIn(UP + 7500, END);
    expect(resumed.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...gaps(resumed))).toBeGreaterThan(900);
    const storeErrors = outcome.flatMap((r) => r.events).filter((e) => e.type === 'store-error');
    expect(storeErrors.length).toBeGreaterThan(0);
    expect(storeErrors.every((e) => e.reason === 'timeout' || e.reason === 'error')).toBe(true);
    console.log(
      `renewal: ${shared.length} tokens in ${((DOWN - 250 - start) / 1000).toFixed(1)} s shared, ${issuedIn(DOWN, UP + 7500).length} while Redis was down or resting, ${resumed.length} after; ${stats.tokenRequests} token round trips for ${stats.tokensIssued} tokens; ${calls.length} requests, ${storeErrors.length} store errors`,
    );
  }, 60_000);
});
