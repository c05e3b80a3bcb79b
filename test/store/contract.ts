// The DPoPStore contract (src/store/dpop-store.ts), one suite run against every adapter on its
// real engine: memory (Node), Redis through node-redis and ioredis (a redis-server), Deno KV
// (two Deno processes on one file), Workers KV and a Durable Object (workerd). Two clients of
// one engine, `a` and `b`, stand for two instances of a fleet.
import { describe, expect, it } from 'vitest';
import type { DPoPStore } from '../../src/store/dpop-store.ts';

export interface StorePair {
  /** One instance's store. */
  a: DPoPStore;
  /** Another instance's store on the same engine (another connection, process or isolate). */
  b: DPoPStore;
}

export interface ContractOptions {
  /** The adapter has `lock` (all but Workers KV). */
  lock: boolean;
}

/** A TTL short enough to wait out, and how long to wait to be sure it has passed. */
const SHORT_TTL = 0.5;
const PAST_SHORT_TTL_MS = 800;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const absent = (value: string | null | undefined) => value === null || value === undefined;

/** Each test writes its own keys, so that runs on a lasting engine never see each other. */
function keys(): (name: string) => string {
  const run = crypto.randomUUID();
  return (name) => `${run}:${name}`;
}

async function rejection(promise: Promise<unknown>): Promise<{ name?: string; code?: string; message?: string }> {
  return promise.then(
    () => ({}),
    (err: Error & { code?: string }) => ({ name: err.name, code: err.code, message: err.message }),
  );
}

export function storeContract(name: string, stores: () => StorePair, { lock }: ContractOptions): void {
  describe(`${name}: the DPoPStore contract`, () => {
    it('get of a key never set resolves null or undefined, from either instance', async () => {
      const { a, b } = stores();
      const k = keys();
      expect(absent(await a.get(k('missing')))).toBe(true);
      expect(absent(await b.get(k('missing')))).toBe(true);
    });

    it("set is seen by the other instance; a second set replaces the value", async () => {
      const { a, b } = stores();
      const k = keys();
      await a.set(k('token'), 'first', 60);
      expect(await a.get(k('token'))).toBe('first');
      expect(await b.get(k('token'))).toBe('first');
      await b.set(k('token'), 'second', 60);
      expect(await a.get(k('token'))).toBe('second');
    });

    it('values come back exactly: JSON, non-ASCII, an empty string, 16 KB', async () => {
      const { a, b } = stores();
      const k = keys();
      const values = [JSON.stringify({ access_token: 'eyJ.x.y', expires_at: 1_800_000_000, jkt: 'abc' }), 'ünïcødé ☃ 𝄞 "quoted"\n', '', 'x'.repeat(16 * 1024)];
      for (const [i, value] of values.entries()) await a.set(k(`v${i}`), value, 60);
      for (const [i, value] of values.entries()) expect(await b.get(k(`v${i}`))).toBe(value);
    });

    it('keys are distinct: look-alike keys never share an entry', async () => {
      const { a } = stores();
      const k = keys();
      const names = ['x', 'X', 'x:y', 'x/y', 'value:x', 'lock:x', 'x ', 'ü', 'x'.repeat(200)];
      for (const [i, n] of names.entries()) await a.set(k(n), String(i), 60);
      for (const [i, n] of names.entries()) expect(await a.get(k(n))).toBe(String(i));
    });

    it('delete removes the entry for every instance; deleting a missing key is not an error', async () => {
      const { a, b } = stores();
      const k = keys();
      await a.set(k('token'), 'v', 60);
      await b.delete(k('token'));
      expect(absent(await a.get(k('token')))).toBe(true);
      await expect(a.delete(k('never-set'))).resolves.toBeUndefined();
    });

    it('set with ttlSeconds expires the entry; a longer TTL outlives it; a new set renews the TTL', async () => {
      const { a, b } = stores();
      const k = keys();
      await a.set(k('short'), 'v', SHORT_TTL);
      await a.set(k('long'), 'v', 60);
      await a.set(k('renewed'), 'old', SHORT_TTL);
      await a.set(k('renewed'), 'new', 60);
      expect(await b.get(k('short'))).toBe('v');
      await sleep(PAST_SHORT_TTL_MS);
      expect(absent(await a.get(k('short')))).toBe(true);
      expect(absent(await b.get(k('short')))).toBe(true);
      expect(await b.get(k('long'))).toBe('v');
      expect(await b.get(k('renewed'))).toBe('new');
    });

    it('checks its arguments: coded TypeErrors naming the argument', async () => {
      const { a } = stores();
      const k = keys();
      const wrong = (message: string) => ({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message });
      const bad = (message: string) => ({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message });
      expect(await rejection(a.get(1 as never))).toEqual(wrong('"key" must be a string'));
      expect(await rejection(a.get(''))).toEqual(bad('"key" must not be empty'));
      expect(await rejection(a.delete(undefined as never))).toEqual(wrong('"key" must be a string'));
      expect(await rejection(a.set(3 as never, 'v', 60))).toEqual(wrong('"key" must be a string'));
      expect(await rejection(a.set('', 'v', 60))).toEqual(bad('"key" must not be empty'));
      expect(await rejection(a.set(k('x'), { token: 1 } as never, 60))).toEqual(wrong('"value" must be a string'));
      expect(await rejection(a.set(k('x'), 'v', '60' as never))).toEqual(wrong('"ttlSeconds" must be a number'));
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(await rejection(a.set(k('x'), 'v', ttl))).toEqual(bad('"ttlSeconds" must be a finite number of seconds above 0'));
      }
      expect(absent(await a.get(k('x')))).toBe(true); // nothing was written
      if (lock) {
        expect(await rejection(a.lock!(k('l'), 0))).toEqual(bad('"ttlSeconds" must be a finite number of seconds above 0'));
        expect(await rejection(a.lock!(2 as never, 10))).toEqual(wrong('"key" must be a string'));
      }
    });

    if (!lock) {
      it('has no lock (the engine cannot make one that holds)', () => {
        expect(stores().a.lock).toBeUndefined();
      });
      return;
    }

    it('lock: one holder at a time across instances; a released lock can be taken again by anyone', async () => {
      const { a, b } = stores();
      const k = keys();
      const release = await a.lock!(k('lock'), 30);
      expect(release).toBeTypeOf('function');
      expect(absent(await b.lock!(k('lock'), 30))).toBe(true);
      expect(absent(await a.lock!(k('lock'), 30))).toBe(true); // not re-entrant: the same instance waits too
      expect(await b.lock!(k('other'), 30)).toBeTypeOf('function'); // another key is another lock
      await release!();
      const again = await b.lock!(k('lock'), 30);
      expect(again).toBeTypeOf('function');
      await again!();
      expect(await a.lock!(k('lock'), 30)).toBeTypeOf('function');
    });

    it('lock: 16 simultaneous attempts from two instances, 8 rounds: exactly one wins each round', async () => {
      const { a, b } = stores();
      const k = keys();
      for (let round = 0; round < 8; round++) {
        const attempts = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).lock!(k(`race-${round}`), 30)));
        expect(attempts.filter((r) => typeof r === 'function'), `round ${round}`).toHaveLength(1);
      }
    });

    it('lock: locks live apart from values', async () => {
      const { a, b } = stores();
      const k = keys();
      await a.set(k('token'), 'v', 60);
      const release = await a.lock!(k('token'), 30); // a value under the same key does not hold the lock
      expect(release).toBeTypeOf('function');
      expect(await b.get(k('token'))).toBe('v'); // and the lock does not change the value
      await b.delete(k('token'));
      expect(absent(await b.lock!(k('token'), 30))).toBe(true); // deleting the value does not free the lock
      await release!();
      expect(absent(await a.get(k('token')))).toBe(true);
    });

    it("lock: a holder that never releases (it died) loses the lock at its TTL", async () => {
      const { a, b } = stores();
      const k = keys();
      expect(await a.lock!(k('lock'), SHORT_TTL)).toBeTypeOf('function');
      expect(absent(await b.lock!(k('lock'), 30))).toBe(true);
      await sleep(PAST_SHORT_TTL_MS);
      expect(await b.lock!(k('lock'), 30)).toBeTypeOf('function');
    });

    it("lock: release is compare-and-delete; a holder past its TTL never frees its successor's lock", async () => {
      const { a, b } = stores();
      const k = keys();
      const late = await a.lock!(k('lock'), SHORT_TTL);
      await sleep(PAST_SHORT_TTL_MS);
      await expect(late!()).resolves.toBeUndefined(); // past its TTL, nobody holds it: nothing to free, no error
      const successor = await b.lock!(k('lock'), 30);
      expect(successor).toBeTypeOf('function');
      await late!(); // too late: the lock is b's now
      expect(absent(await a.lock!(k('lock'), 30))).toBe(true);
      await late!(); // a second release is harmless too
      expect(absent(await a.lock!(k('lock'), 30))).toBe(true);
      await successor!();
      expect(await a.lock!(k('lock'), 30)).toBeTypeOf('function');
    });
  });
}
