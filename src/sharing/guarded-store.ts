/**
 * The fleet's store as requests may lean on it. A store is someone else's server: it may
 * throw, reject, hang (node-redis queues commands while it is disconnected) or answer anything.
 * Here every call is bounded to about a second, every failure is reported once (`store-error`)
 * and answered with "nothing shared" instead of an error, and after a failure the store is left
 * alone for a few seconds, so that a store that is down costs the requests nothing more while
 * it is down. Sharing resumes by itself once it answers again (issue 15).
 */
import type { DPoPEvent, EventListener } from '../events.ts';
import type { DPoPStore } from '../store/dpop-store.ts';

/** What a call gives when it failed, hung, or was not made because the store is resting. */
export const FAILED = Symbol('store failed');
export type Failed = typeof FAILED;
export type Release = () => Promise<void>;

/** How long one store call may take before it counts as hung. */
export const BOUND_MS = 1000;
/** How long the store is left alone after it failed. */
export const REST_MS = 5000;

type Operation = StoreError['operation'];
type StoreError = Extract<DPoPEvent, { type: 'store-error' }>;

/** The fleet's store, bounded: see the top of this file. */
export interface GuardedStore {
  readonly hasLock: boolean;
  /** The store holds one user's session (it has `checkSession`). */
  readonly oneUser: boolean;
  /**
   * The store's `checkSession`: nothing when the session goes on and it says so at once, a
   * promise when it must look (bounded), and a rejection only with its `ERR_LOGIN_REQUIRED`;
   * any other failure is reported and taken as "goes on".
   */
  session(jkt: string): Promise<void> | undefined;
  /** Reports that the store is not used for these tokens, and why (`refused`). */
  refused(detail: string): void;
  /** The value, undefined when nothing (or nothing usable) is stored, FAILED when the store failed. */
  get(key: string): Promise<string | undefined | Failed>;
  /** Whether the value was written. */
  set(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /** A release function, null when another instance holds the lock, or FAILED. */
  lock(key: string, ttlSeconds: number): Promise<Release | null | Failed>;
  release(release: Release): Promise<void>;
  /** Reports a stored value this instance cannot use; `detail` says why, never what it was. */
  unusable(detail: string): void;
  /** The same store for a token source (`TokenContext.shared`): bounded, and rejecting where this one answers FAILED. */
  readonly view: DPoPStore;
}

/**
 * An error's name and code, never its message: a store's message may quote the value it was
 * given, and the value may hold a token.
 */
function describe(err: unknown): string {
  const { name, code } = (typeof err === 'object' && err ? err : {}) as { name?: unknown; code?: unknown };
  const word = (value: unknown) => (typeof value === 'string' && /^[\w.-]{1,40}$/.test(value) ? value : undefined);
  return [word(name) ?? typeof err, word(code)].filter(Boolean).join(' ');
}

/** Wraps `store`; reports through `onEvent`. */
export function guardStore(store: DPoPStore, onEvent: EventListener | undefined): GuardedStore {
  let restUntil = -Infinity;
  const report = (event: Omit<StoreError, 'type'>) => {
    try {
      onEvent?.({ type: 'store-error', ...event });
    } catch {
      // As in events.ts: the application's logging never changes a request's outcome.
    }
  };

  /**
   * Runs one store call within the bound; `late` gets an answer that came after it. A resting
   * store is not called, but for a release: a lock left taken would hold the fleet until its TTL.
   */
  function call<T>(operation: Operation, run: () => Promise<T>, late?: (value: T) => void): Promise<T | Failed> {
    if (operation !== 'release' && performance.now() < restUntil) return Promise.resolve(FAILED);
    return new Promise((resolve) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (value: T | Failed, reason?: 'error' | 'timeout', error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (reason) {
          restUntil = performance.now() + REST_MS;
          report({ operation, reason, ...(error ? { error } : {}) });
        }
        resolve(value);
      };
      // A timer that fires after the event loop was busy runs before the I/O that arrived in
      // the meantime: one more turn of the loop lets an answer that is already here win.
      timer = setTimeout(() => (timer = setTimeout(() => settle(FAILED, 'timeout'))), BOUND_MS);
      try {
        run().then(
          (value) => (settled ? late?.(value) : settle(value)),
          (err: unknown) => settle(FAILED, 'error', describe(err)),
        );
      } catch (err) {
        settle(FAILED, 'error', describe(err));
      }
    });
  }

  // A lock granted after its call counted as hung is nobody's: it is given back at once, or it
  // would keep the fleet waiting for its TTL (node-redis runs queued commands on reconnecting).
  const giveBack = (late: unknown) => {
    if (typeof late === 'function') Promise.resolve().then(late as Release).catch(() => {});
  };
  const strict = async <T>(operation: Operation, run: () => Promise<T>, late?: (value: T) => void): Promise<T> => {
    const value = await call(operation, run, late);
    if (value === FAILED) throw new Error(`The shared store's ${operation} failed, or took more than ${BOUND_MS} ms; it is left alone for a few seconds.`);
    return value;
  };
  const { lock, checkSession, degraded } = store;
  // A store that works in a lesser way here says so once (issue 16: tabs without Web Locks).
  if (typeof degraded === 'string') report({ operation: 'lock', reason: 'degraded', detail: degraded.slice(0, 300) });
  const ended = (err: unknown) => (err as { code?: unknown } | null)?.code === 'ERR_LOGIN_REQUIRED';
  const view: DPoPStore = {
    get: (key) => strict('get', () => store.get(key)),
    set: (key, value, ttl) => strict('set', () => store.set(key, value, ttl)),
    delete: (key) => strict('delete', () => store.delete(key)),
    ...(lock && { lock: (key: string, ttl: number) => strict('lock', () => lock.call(store, key, ttl), giveBack) }),
  };

  return {
    hasLock: typeof lock === 'function',
    oneUser: typeof checkSession === 'function',
    session(jkt) {
      if (!checkSession || performance.now() < restUntil) return;
      let answer: void | Promise<void>;
      try {
        answer = checkSession.call(store, jkt);
      } catch (err) {
        if (ended(err)) return Promise.reject(err);
        return void call('session', () => Promise.reject(err));
      }
      if (!answer || typeof answer.then !== 'function') return;
      // The sign-out passes; a check that fails or hangs is the store failing: the session goes on.
      let out: unknown;
      return call('session', () => Promise.resolve(answer).catch((err) => (ended(err) ? (out = err) : Promise.reject(err)))).then(() => {
        if (out) throw out;
      });
    },
    refused(detail) {
      report({ operation: 'set', reason: 'refused', detail });
    },
    async get(key) {
      const value = await call('get', () => store.get(key));
      if (value === FAILED || typeof value === 'string') return value;
      if (value !== null && value !== undefined) report({ operation: 'get', reason: 'unusable', detail: 'not a string' });
      return undefined;
    },
    async set(key, value, ttlSeconds) {
      return (await call('set', () => store.set(key, value, ttlSeconds))) !== FAILED;
    },
    async delete(key) {
      return (await call('delete', () => store.delete(key))) !== FAILED;
    },
    async lock(key, ttlSeconds) {
      const result = await call('lock', () => lock!.call(store, key, ttlSeconds), giveBack);
      if (result === FAILED || typeof result === 'function') return result;
      if (result === null || result === undefined) return null;
      report({ operation: 'lock', reason: 'unusable', detail: 'neither a release function nor null' });
      return FAILED;
    },
    async release(release) {
      await call('release', release);
    },
    unusable(detail) {
      report({ operation: 'get', reason: 'unusable', detail });
    },
    view,
  };
}
