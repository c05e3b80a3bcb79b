// The guarded store (src/sharing/guarded-store.ts), call by call: what each method answers for
// each answer of the store (values, null, undefined, failures, late answers), the exact rest,
// the timers it leaves behind, what an event may say about an error, the session check, and the
// view given to token sources. Timers are Vitest's fake ones and the monotonic clock is set by
// hand: no assertion depends on how fast this machine is.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DPoPEvent, DPoPStore } from '../../src/index.ts';
import { DPoPError } from '../../src/index.ts';
import { FAILED, guardStore } from '../../src/sharing/guarded-store.ts';
import { memoryStore } from '../../src/store/index.ts';

let now = 1_000_000;
beforeEach(() => {
  now = 1_000_000;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A store whose methods default to a working memory store; `extra` adds or replaces members. */
function guarded(extra: Partial<Record<keyof DPoPStore, unknown>> = {}) {
  const events: DPoPEvent[] = [];
  const inner = memoryStore();
  const store = { get: inner.get, set: inner.set, delete: inner.delete, lock: inner.lock, ...extra } as DPoPStore;
  return { store: guardStore(store, (e) => events.push(e)), events, inner };
}

/** A promise settled by hand, as a store's answer that comes when the test says. */
function later<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Runs the bound's two timers (the second, set by the first, lets an answer already here win). */
const pastTheBound = async () => {
  await vi.advanceTimersByTimeAsync(1000);
  await vi.advanceTimersByTimeAsync(1); // a timer set during a tick of the fake clock is due 1 ms later
};

/** Collects the unhandled rejections of `run` (Node ends the process on one, by default). */
async function unhandled(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await run();
    vi.useRealTimers();
    await new Promise((resolve) => setTimeout(resolve, 20)); // Node reports them after the microtasks
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

describe('what each call answers', () => {
  it('get: a string as it is; null and undefined as "nothing", not reported', async () => {
    for (const value of [null, undefined]) {
      const { store, events } = guarded({ get: async () => value });
      expect(await store.get('k')).toBeUndefined();
      expect(events).toEqual([]);
    }
    const { store } = guarded({ get: async () => '' });
    expect(await store.get('k')).toBe('');
  });

  it('set and delete: true when the store answered, false when it failed (reported under the call\'s name)', async () => {
    const { store, inner, events } = guarded({ delete: () => Promise.reject(new Error('down')) });
    expect(await store.set('k', 'v', 60)).toBe(true);
    expect(await inner.get('k')).toBe('v');
    expect(await store.delete('k')).toBe(false);
    expect(events).toStrictEqual([{ type: 'store-error', operation: 'delete', reason: 'error', error: 'Error' }]);
    const working = guarded();
    await working.inner.set('k', 'v', 60);
    expect(await working.store.delete('k')).toBe(true);
    expect(await working.inner.get('k')).toBeUndefined();
  });

  it('lock: null and undefined both mean "someone else holds it", not reported', async () => {
    for (const value of [null, undefined]) {
      const { store, events } = guarded({ lock: async () => value });
      expect(await store.lock('k', 5)).toBeNull();
      expect(events).toEqual([]);
    }
  });

  it('hasLock and oneUser say what the store has; a store without lock gives a view without lock', () => {
    const plain = guarded({ lock: undefined }).store;
    expect([plain.hasLock, plain.oneUser, 'lock' in plain.view]).toEqual([false, false, false]);
    const full = guarded({ checkSession: () => {} }).store;
    expect([full.hasLock, full.oneUser, typeof full.view.lock]).toEqual([true, true, 'function']);
  });
});

describe('the bound, the rest, and what is left behind', () => {
  it('a call answered leaves no timer behind: a process with nothing else to do may exit', async () => {
    const { store } = guarded();
    expect(await store.set('k', 'v', 60)).toBe(true);
    expect(await store.get('k')).toBe('v');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a timeout event has no error member; an error that comes after the timeout is not reported again', async () => {
    const answer = later<string>();
    const { store, events } = guarded({ get: () => answer.promise });
    const pending = store.get('k');
    await pastTheBound();
    expect(await pending).toBe(FAILED);
    answer.reject(new Error('late'));
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toStrictEqual([{ type: 'store-error', operation: 'get', reason: 'timeout' }]);
  });

  it('the rest lasts exactly 5000 ms from the failure: not called at 4999 ms, called at 5000 ms', async () => {
    let calls = 0;
    const { store } = guarded({ get: async () => (calls++ === 0 ? Promise.reject(new Error('down')) : 'v') });
    expect(await store.get('k')).toBe(FAILED);
    now += 4999;
    expect(await store.get('k')).toBe(FAILED);
    expect(calls).toBe(1);
    now += 1;
    expect(await store.get('k')).toBe('v');
    expect(calls).toBe(2);
  });

  it('a lock that answers "taken" (null) after its call counted as hung → nothing to give back, nothing thrown', async () => {
    const lock = later<null>();
    const { store } = guarded({ lock: () => lock.promise });
    const seen = await unhandled(async () => {
      const pending = store.lock('k', 5);
      await pastTheBound();
      expect(await pending).toBe(FAILED);
      lock.resolve(null);
    });
    expect(seen).toEqual([]);
  });

  it('an answer that comes after the timeout, or a late lock whose release rejects → no unhandled rejection', async () => {
    const answer = later<string>();
    const lock = later<() => Promise<void>>();
    let released = 0;
    const { store, events } = guarded({ get: () => answer.promise, lock: () => lock.promise });
    const seen = await unhandled(async () => {
      const pendingGet = store.get('k');
      const pendingLock = store.lock('k', 5);
      await pastTheBound();
      expect([await pendingGet, await pendingLock]).toEqual([FAILED, FAILED]);
      expect(events.map((e) => e.type === 'store-error' && e.operation)).toEqual(['get', 'lock']);
      answer.resolve('v');
      lock.resolve(() => (released++, Promise.reject(new Error('release failed'))));
    });
    expect(seen).toEqual([]);
    expect(released).toBe(1);
  });
});

describe('what an event says', () => {
  it("an error's name and code only when they are short words; else the error's type", async () => {
    const cases: Array<[unknown, string]> = [
      [Object.assign(new Error('m'), { name: 'a name with spaces', code: 'ERR_OK' }), 'object ERR_OK'],
      [Object.assign(new Error('m'), { name: 'N'.repeat(41), code: 'has space' }), 'object'],
      [Object.assign(new Error('m'), { name: 'N'.repeat(40), code: 'x.y-z_1' }), `${'N'.repeat(40)} x.y-z_1`],
      [{ name: 42, code: 7 }, 'object'], // not strings, though they read as words
      [null, 'object'],
      [function namedFunction() {}, 'function'],
    ];
    for (const [err, error] of cases) {
      const { store, events } = guarded({ set: () => Promise.reject(err) });
      await store.set('k', 'v', 60);
      expect(events).toStrictEqual([{ type: 'store-error', operation: 'set', reason: 'error', error }]);
    }
  });

  it('a store that says it works in a lesser way → reported once, at the start, cut to 300 characters', () => {
    const events: DPoPEvent[] = [];
    guardStore({ ...memoryStore(), degraded: `${'d'.repeat(300)}cut` }, (e) => events.push(e));
    expect(events).toStrictEqual([{ type: 'store-error', operation: 'lock', reason: 'degraded', detail: 'd'.repeat(300) }]);
    const none: DPoPEvent[] = [];
    guardStore(memoryStore(), (e) => none.push(e));
    expect(none).toEqual([]);
  });
});

describe('the session check', () => {
  it('answered at once (nothing, or a value that is not a promise) → session() gives nothing to wait for', () => {
    for (const answer of [undefined, true, { then: 'not a function' }]) {
      const { store } = guarded({ checkSession: () => answer });
      expect(store.session('jkt')).toBeUndefined();
    }
  });

  it('a store without checkSession → session() asks nothing and reports nothing', async () => {
    const { store, events } = guarded();
    expect(store.session('jkt')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual([]);
  });

  it('a check that throws null → reported as the store failing, and the session goes on', async () => {
    const { store, events } = guarded({
      checkSession: () => {
        throw null;
      },
    });
    expect(store.session('jkt')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toStrictEqual([{ type: 'store-error', operation: 'session', reason: 'error', error: 'object' }]);
  });

  it('while the store rests → not asked; after the rest → asked again, and its sign-out passes', async () => {
    let asked = 0;
    const { store } = guarded({
      get: () => Promise.reject(new Error('down')),
      checkSession: () => (asked++, Promise.reject(new DPoPError('ERR_LOGIN_REQUIRED', 'signed out'))),
    });
    expect(await store.get('k')).toBe(FAILED);
    expect(store.session('jkt')).toBeUndefined();
    expect(asked).toBe(0);
    now += 5000;
    await expect(store.session('jkt')).rejects.toMatchObject({ code: 'ERR_LOGIN_REQUIRED' });
    expect(asked).toBe(1);
  });
});

describe('the view given to token sources', () => {
  it('answers as the store does when it works', async () => {
    const { store, inner } = guarded();
    await store.view.set('k', 'v', 60);
    expect(await store.view.get('k')).toBe('v');
    const release = await store.view.lock!('l', 5);
    expect(await store.view.lock!('l', 5)).toBeNull();
    await release!();
    await store.view.delete('k');
    expect(await inner.get('k')).toBeUndefined();
    expect(await inner.lock!('l', 5)).toBeTypeOf('function');
  });

  it('set, delete and lock that fail → rejected with a message that names the call, and reported under its name', async () => {
    for (const operation of ['set', 'delete', 'lock'] as const) {
      const { store, events } = guarded({ [operation]: () => Promise.reject(new Error('down')) });
      const view = store.view as Required<DPoPStore>;
      const call = operation === 'set' ? view.set('k', 'v', 60) : operation === 'delete' ? view.delete('k') : view.lock('k', 5);
      await expect(call).rejects.toThrow(`The shared store's ${operation} failed, or took more than 1000 ms; it is left alone for a few seconds.`);
      expect(events).toStrictEqual([{ type: 'store-error', operation, reason: 'error', error: 'Error' }]);
    }
  });

  it('a lock granted after its call counted as hung → given back at once', async () => {
    const lock = later<() => Promise<void>>();
    let released = 0;
    const { store } = guarded({ lock: () => lock.promise });
    const pending = store.view.lock!('k', 5);
    const failed = expect(pending).rejects.toThrow("The shared store's lock failed");
    await pastTheBound();
    await failed;
    lock.resolve(async () => void released++);
    await vi.advanceTimersByTimeAsync(0);
    expect(released).toBe(1);
  });
});
