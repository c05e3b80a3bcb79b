// The store as requests lean on it (src/sharing/guarded-store.ts): bounded calls, failures
// reported and answered with "nothing shared", a rest after a failure, and a lock granted too
// late given back. Hostile stores against the real peers: store-faults.peers.test.ts.
import { stat } from 'node:fs/promises';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { DPoPEvent, DPoPStore } from '../../src/index.ts';
import { FAILED, guardStore } from '../../src/sharing/guarded-store.ts';
import { memoryStore } from '../../src/store/index.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function guarded(overrides: Partial<DPoPStore> = {}) {
  const events: DPoPEvent[] = [];
  const inner = memoryStore();
  const calls: string[] = [];
  const store: DPoPStore = {
    get: (key) => (calls.push('get'), (overrides.get ?? inner.get)(key)),
    set: (key, value, ttl) => (calls.push('set'), (overrides.set ?? inner.set)(key, value, ttl)),
    delete: (key) => (calls.push('delete'), (overrides.delete ?? inner.delete)(key)),
    lock: (key, ttl) => (calls.push('lock'), (overrides.lock ?? inner.lock!)(key, ttl)),
  };
  return { store: guardStore(store, (e) => events.push(e)), events, calls, inner };
}

/** Moves the monotonic clock on by `ms` from now on, for this test. */
function later(ms: number) {
  const real = performance.now.bind(performance);
  const spy = vi.spyOn(performance, 'now').mockImplementation(() => real() + ms);
  onTestFinished(() => spy.mockRestore());
}

describe('guarded store', () => {
  it('a call that never answers → FAILED after about a second, reported as a timeout', async () => {
    const { store, events } = guarded({ get: () => new Promise(() => {}) });
    const started = performance.now();
    expect(await store.get('k')).toBe(FAILED);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(events).toEqual([{ type: 'store-error', operation: 'get', reason: 'timeout' }]);
  });

  it('an answer that arrived while the event loop was busy past the bound → still taken, not a timeout', async () => {
    // The answer comes from I/O (one call to the file system's thread pool, as a Redis reply is
    // one socket read), which the event loop sees only after the timers that fell due while it
    // was blocked.
    const { store, events } = guarded({ get: () => stat(new URL(import.meta.url)).then(() => 'v') });
    await stat(new URL(import.meta.url)); // from here on, in the loop's I/O phase: the timers come next
    const pending = store.get('k');
    const until = performance.now() + 1200;
    while (performance.now() < until); // busy, as a loaded process is
    expect(await pending).toBe('v');
    expect(events).toEqual([]);
  });

  it('after a failure → the store is left alone for 5 s (no call, no new report), then called again', async () => {
    let fail = true;
    const { store, events, calls, inner } = guarded({ get: (key) => (fail ? Promise.reject(new Error('down')) : inner.get(key)) });
    expect(await store.get('k')).toBe(FAILED);
    calls.length = 0;
    expect(await store.get('k')).toBe(FAILED);
    expect(await store.set('k', 'v', 60)).toBe(false);
    expect(await store.lock('k', 5)).toBe(FAILED);
    expect(calls).toEqual([]);
    fail = false;
    later(5001);
    expect(await store.set('k', 'v', 60)).toBe(true);
    expect(await store.get('k')).toBe('v');
    expect(events).toEqual([{ type: 'store-error', operation: 'get', reason: 'error', error: 'Error' }]);
  });

  it('a lock granted after its call counted as hung → released at once, so the fleet does not wait for its TTL', async () => {
    let released = false;
    const { store, inner } = guarded({
      lock: async (key, ttl) => {
        await sleep(1300);
        const release = await inner.lock!(key, ttl);
        return release && (async () => ((released = true), release()));
      },
    });
    expect(await store.lock('k', 30)).toBe(FAILED);
    await sleep(400);
    expect(released).toBe(true);
    expect(await inner.lock!('k', 30)).toBeTypeOf('function'); // free again
  });

  it('a release runs even while the store rests: a lock left taken would hold the fleet', async () => {
    const { store, inner } = guarded({ set: () => Promise.reject(new Error('down')) });
    const release = await store.lock('k', 30);
    expect(release).toBeTypeOf('function');
    expect(await store.set('k', 'v', 60)).toBe(false); // now resting
    await store.release(release as () => Promise<void>);
    expect(await inner.lock!('k', 30)).toBeTypeOf('function');
  });

  it('errors are reported by name and code only: a message that quotes a value never reaches an event', async () => {
    const { store, events } = guarded({ set: async (_key, value) => Promise.reject(Object.assign(new TypeError(`bad value ${value}`), { code: 'ERR_X' })) });
    await store.set('k', 'secret-token', 60);
    expect(events).toEqual([{ type: 'store-error', operation: 'set', reason: 'error', error: 'TypeError ERR_X' }]);
    const thrown = guarded({ get: () => Promise.reject('a string with a token in it') });
    await thrown.store.get('k');
    expect(thrown.events).toEqual([{ type: 'store-error', operation: 'get', reason: 'error', error: 'string' }]);
  });

  it('the view given to token sources → rejects where the guarded store answers FAILED', async () => {
    const { store } = guarded({ get: () => Promise.reject(new Error('down')) });
    await expect(store.view.get('k')).rejects.toThrow("The shared store's get failed, or took more than 1000 ms; it is left alone for a few seconds.");
  });
});
