// The servers' nonces as a fleet shares them (src/sharing/shared-nonces.ts), on the nonce cache
// of createDPoPFetch (src/nonce.ts) and a guarded memoryStore: what is written, under which
// name, how often, what is read at a first contact and who waits for it. Entry names are
// computed here with node:crypto. The monotonic clock is set by hand and timers are Vitest's
// fake ones: nothing depends on this machine's speed. The same through real servers:
// shared-nonces.peers.test.ts.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DPoPEvent, DPoPStore } from '../../src/index.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { guardStore, type GuardedStore } from '../../src/sharing/guarded-store.ts';
import { shareNonces } from '../../src/sharing/shared-nonces.ts';
import { memoryStore } from '../../src/store/index.ts';

let now = 1_000_000;
// Entry names are SHA-256 digests, which WebCrypto computes off the main thread: each is awaited
// by settle() below, so that "nothing was written" means nothing is still on its way.
let digests: Array<Promise<unknown>> = [];
beforeEach(() => {
  now = 1_000_000;
  digests = [];
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  const digest = crypto.subtle.digest.bind(crypto.subtle);
  vi.spyOn(crypto.subtle, 'digest').mockImplementation((...args) => {
    const result = digest(...args);
    digests.push(result);
    return result;
  });
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const JKT = 'fleet-jkt';
const nameOf = (space: string, jkt = JKT) => `n:${createHash('sha256').update(`${jkt} ${space}`).digest('base64url')}`;
const headers = (nonce?: string) => new Headers(nonce === undefined ? {} : { 'dpop-nonce': nonce });
/** Lets the digests and store calls started in the background finish. */
async function settle() {
  for (let seen = -1; seen !== digests.length; ) {
    seen = digests.length;
    await Promise.allSettled(digests);
    await vi.advanceTimersByTimeAsync(0);
  }
}

/** One instance: its nonce cache shared through `inner` (a memoryStore by default), every write recorded. */
function instance(inner: DPoPStore = memoryStore(), { nonceWait = 3000, jkt = JKT, limit = 1000 } = {}) {
  const events: DPoPEvent[] = [];
  const writes: Array<{ key: string; value: string; ttl: number }> = [];
  const recorded: DPoPStore = { ...inner, get: inner.get, set: (key, value, ttl) => (writes.push({ key, value, ttl }), inner.set(key, value, ttl)), delete: inner.delete };
  const nonces = createNonceCache(limit);
  const shared = shareNonces(nonces, guardStore(recorded, (e) => events.push(e)), Promise.resolve(jkt), nonceWait);
  return { nonces, shared, writes, events, inner };
}

describe('what is written', () => {
  it('a new nonce → written under n:<SHA-256 of "jkt space"> for 120 s; the same nonce again → not written again', async () => {
    const { nonces, writes } = instance();
    expect(nonces.learn('https://api.example', headers('n-1'))).toBe('n-1');
    nonces.learn('https://api.example', headers('n-1'));
    nonces.learn('https://other.example', headers('o-1')); // another space's write forgets nothing of this one
    now += 5000;
    nonces.learn('https://api.example', headers('n-1'));
    await settle();
    expect(writes.filter((w) => w.value === 'n-1')).toEqual([{ key: nameOf('https://api.example'), value: 'n-1', ttl: 120 }]);
  });

  it('an answer without a nonce → nothing written, and the nonce held is kept', async () => {
    const { nonces, writes } = instance();
    expect(nonces.learn('https://api.example', headers())).toBeUndefined();
    await settle();
    expect(writes).toEqual([]);
  });

  it('a server that changes its nonce on every answer → written at most once a second per space (not at 999 ms, at 1000 ms)', async () => {
    const { nonces, writes } = instance();
    nonces.learn('https://api.example', headers('n-1'));
    now += 999;
    nonces.learn('https://api.example', headers('n-2'));
    nonces.learn('https://other.example', headers('o-1')); // another space: its own second
    now += 1;
    nonces.learn('https://api.example', headers('n-3'));
    await settle();
    expect(writes.map((w) => w.value).sort()).toEqual(['n-1', 'n-3', 'o-1']); // digests finish in any order
  });

  it('a write that failed → the next answer with that nonce writes it again', async () => {
    let fail = true;
    const inner = memoryStore();
    const { nonces, writes } = instance({ ...inner, set: (key, value, ttl) => (fail ? Promise.reject(new Error('down')) : inner.set(key, value, ttl)) });
    nonces.learn('https://api.example', headers('n-1'));
    await settle();
    fail = false;
    now += 5000; // past the store's rest
    nonces.learn('https://api.example', headers('n-1'));
    await settle();
    expect(writes.map((w) => w.value)).toEqual(['n-1', 'n-1']);
    expect(await inner.get(nameOf('https://api.example'))).toBe('n-1');
  });

  it('a failed write of an older nonce, answered after a newer one was written → the newer one is not written again', async () => {
    const sets: string[] = [];
    const answers: Array<() => void> = [];
    // A guarded store whose first write fails late: the order of answers is the test's.
    const store = {
      get: async () => undefined,
      set: (_key: string, value: string) => (sets.push(value), new Promise<boolean>((resolve) => answers.push(() => resolve(value !== 'n-1')))),
      unusable: () => {},
    } as unknown as GuardedStore;
    const nonces = createNonceCache();
    shareNonces(nonces, store, Promise.resolve(JKT), 3000);
    nonces.learn('https://api.example', headers('n-1'));
    await settle();
    now += 1000;
    nonces.learn('https://api.example', headers('n-2'));
    await settle();
    for (const answer of answers.splice(0)) answer(); // n-1 failed, n-2 written
    await settle();
    now += 1000;
    nonces.learn('https://api.example', headers('n-2'));
    await settle();
    expect(sets).toEqual(['n-1', 'n-2']);
  });

  it('past 1000 spaces, what was written and when is forgotten (and written again when seen), not before', async () => {
    const { nonces, writes } = instance();
    for (let i = 1; i < 1000; i++) nonces.learn(`https://s${i}.example`, headers('n'));
    now += 1000;
    nonces.learn('https://s0.example', headers('n')); // the 1000th, written now
    nonces.learn('https://s0.example', headers('n')); // 1000 remembered: still known
    await settle();
    expect(writes).toHaveLength(1000);
    nonces.learn('https://s1000.example', headers('n')); // the 1001st: all forgotten first
    nonces.learn('https://s0.example', headers('n')); // so written again, though it was written this very second
    await settle();
    expect(writes.slice(1000).map((w) => w.key).sort()).toEqual([nameOf('https://s1000.example'), nameOf('https://s0.example')].sort());
  });

  it('nonces read from the store count toward the 1000 spaces as well: past them, all are forgotten', async () => {
    const { inner, nonces, shared, writes } = instance();
    for (let i = 1; i < 1000; i++) nonces.learn(`https://s${i}.example`, headers('n'));
    await inner.set(nameOf('https://x.example'), 'x', 60);
    await inner.set(nameOf('https://y.example'), 'y', 60);
    await shared.seed('https://x.example'); // the 1000th
    await shared.seed('https://y.example'); // the 1001st: all forgotten first
    now += 1000;
    nonces.learn('https://s1.example', headers('n')); // so written again
    await settle();
    expect(writes.slice(999).map((w) => w.key)).toEqual([nameOf('https://s1.example')]);
  });

  it("lastAs: the authorization server's space learnt last (ending in ' AS'), never a resource server's", () => {
    const { nonces, shared } = instance();
    expect(shared.lastAs).toBeUndefined();
    nonces.learn('https://as.example AS', headers('a-1'));
    nonces.learn('https://api.example', headers('r-1'));
    nonces.learn('https://api.example AS2', headers('r-2'));
    nonces.learn('https://as2.example AS', headers());
    expect(shared.lastAs).toBe('https://as.example AS');
  });
});

describe('what is read', () => {
  it('seed: the stored nonce is taken; a stored value that is not an RFC 9449 nonce is reported, never taken', async () => {
    const { inner, nonces, shared, events } = instance();
    await inner.set(nameOf('https://as.example AS'), 'as-n', 60);
    await shared.seed('https://as.example AS');
    expect(nonces.get('https://as.example AS')).toBe('as-n');
    for (const bad of ['two words', 'quo"te', 'x'.repeat(1025)]) {
      await inner.set(nameOf('https://bad.example'), bad, 60);
      await shared.seed('https://bad.example');
      expect(nonces.get('https://bad.example')).toBeUndefined();
    }
    expect(events).toEqual(Array(3).fill({ type: 'store-error', operation: 'get', reason: 'unusable', detail: 'a nonce that is not an RFC 9449 nonce' }));
  });

  it("another key's entries are not read: the name holds the thumbprint", async () => {
    const inner = memoryStore();
    await inner.set(nameOf('https://api.example', 'other-jkt'), 'theirs', 60);
    const { nonces, shared } = instance(inner);
    await shared.seed('https://api.example');
    expect(nonces.get('https://api.example')).toBeUndefined();
  });

  it('a seeded nonce counts as what the store holds: the same nonce learnt later is not written back', async () => {
    const { inner, nonces, shared, writes } = instance();
    await inner.set(nameOf('https://api.example'), 'n-1', 60);
    await shared.seed('https://api.example');
    nonces.learn('https://api.example', headers('n-1'));
    await settle();
    expect(writes).toEqual([]);
  });
});

describe('the first contact with an origin', () => {
  it('a nonce in the store → the first request goes with it, and those waiting go at once', async () => {
    const { inner, nonces } = instance();
    await inner.set(nameOf('https://api.example'), 'n-1', 60);
    const first = nonces.firstContact('https://api.example');
    const second = nonces.firstContact('https://api.example');
    expect(first).toBeInstanceOf(Promise);
    expect(second).toBeInstanceOf(Promise);
    await first;
    await second;
    expect(nonces.get('https://api.example')).toBe('n-1');
    expect(vi.getTimerCount()).toBe(0);
    expect(nonces.firstContact('https://api.example')).toBeUndefined(); // known now
  });

  it('none in the store → those waiting go when the first answer is learnt, not before', async () => {
    const { nonces } = instance();
    const first = nonces.firstContact('https://api.example');
    let released = false;
    void (nonces.firstContact('https://api.example') as Promise<void>).then(() => (released = true));
    await first;
    await settle();
    expect(released).toBe(false);
    nonces.learn('https://api.example', headers('n-1'));
    await settle();
    expect(released).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('none in the store and no answer → those waiting go after nonceWait (not a millisecond before)', async () => {
    const { nonces } = instance(memoryStore(), { nonceWait: 700 });
    const first = nonces.firstContact('https://api.example');
    let released = false;
    void (nonces.firstContact('https://api.example') as Promise<void>).then(() => (released = true));
    await first;
    await vi.advanceTimersByTimeAsync(699);
    expect(released).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(released).toBe(true);
  });

  it('the first answer (here without a nonce) learnt while the store is still read → no timer is left waiting', async () => {
    const answer: Array<(value: string | undefined) => void> = [];
    const inner = memoryStore();
    const { nonces } = instance({ ...inner, get: () => new Promise((resolve) => answer.push(resolve)) });
    const first = nonces.firstContact('https://api.example') as Promise<void>;
    nonces.learn('https://api.example', headers());
    await settle();
    answer[0]!(undefined);
    await first;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an older first contact that ends late never lets go of a newer one (the origin forgotten and contacted again meanwhile)', async () => {
    const reads: Array<(value: string | undefined) => void> = [];
    const inner = memoryStore();
    // A nonce cache of one origin, so that another origin's answer makes it forget the first.
    const { nonces } = instance({ ...inner, get: () => new Promise((resolve) => reads.push(resolve)) }, { limit: 1 });
    const older = nonces.firstContact('https://a.example') as Promise<void>;
    // Its store read starts before the newer one's: both names are hashed on WebCrypto's thread
    // pool, which may finish them in either order, and reads[0] must be the older contact's.
    await settle();
    expect(reads).toHaveLength(1);
    nonces.learn('https://a.example', headers('a-1')); // the older contact's answer
    nonces.learn('https://b.example', headers('b-1')); // a.example forgotten
    const newer = nonces.firstContact('https://a.example') as Promise<void>;
    let released = false;
    void (nonces.firstContact('https://a.example') as Promise<void>).then(() => (released = true)); // waits for the newer one
    await settle();
    reads[0]!('a-1'); // the older contact's store read ends now
    await older;
    await settle();
    expect(released).toBe(false);
    nonces.learn('https://a.example', headers('a-2')); // the newer contact's answer lets its waiters go
    await settle();
    expect(released).toBe(true);
    reads[1]!(undefined);
    await newer;
  });
});
