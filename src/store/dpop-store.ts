/**
 * The shared store: what every instance of a fleet (processes, pods, isolates, regions) reads
 * and writes so that they hold one token, one lock and the servers' nonces together (issue 15).
 * The adapters over real engines live in the `dpop-fetch/store` entry point; this file holds the
 * contract they keep and the argument checks they share.
 */
import { invalidType, invalidValue } from '../assert.ts';

/**
 * A key-value store with expiry, and optionally a lock, shared by every instance that holds
 * the same DPoP key. Adapters for Redis, Deno KV, Workers KV and Durable Objects come with
 * `dpop-fetch/store`; any object with these methods will do.
 *
 * The contract every adapter keeps (and `test/store/contract.ts` checks against each engine):
 * - `get` of a key never set, deleted, or past its TTL resolves `null` or `undefined`.
 * - `set` stores `value` under `key` for `ttlSeconds` (a positive number, fractions allowed),
 *   replacing any earlier value and TTL; after the TTL, `get` no longer returns it.
 * - `delete` removes a key; deleting a missing key is not an error.
 * - `lock(key, ttlSeconds)` resolves a release function when it took the lock, or
 *   `null`/`undefined` when another holder has it (it never waits). Locks live apart from
 *   values: `lock('k')` neither reads nor changes what `get('k')` returns.
 * - A released lock can be taken again at once, by any instance.
 * - Release is compare-and-delete: each lock taken carries a fresh random token, and release
 *   frees the lock only if it still holds that token. A holder whose TTL ran out never frees a
 *   lock that has since passed to someone else.
 * - A lock's TTL frees it if its holder dies (or never releases it).
 *
 * Every method may reject when the engine fails; a caller must treat a rejection, a hang or a
 * value it cannot use as "nothing shared", never as a failed request.
 *
 * @example
 * import { redisStore } from 'dpop-fetch/store';
 * const store: DPoPStore = redisStore(redisClient);
 * const release = await store.lock?.('refresh', 10);
 * if (release) try { await store.set('token', json, 300) } finally { await release() }
 */
export interface DPoPStore {
  /** The value stored under `key`, or `null`/`undefined` when there is none (or it expired). */
  get(key: string): Promise<string | null | undefined>;
  /** Stores `value` under `key` for `ttlSeconds`, replacing what was there. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Removes `key`; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Take a lock for ttlSeconds: resolves a release function, or null/undefined when another holder has it. Optional. */
  lock?(key: string, ttlSeconds: number): Promise<(() => Promise<void>) | null | undefined>;
  /**
   * Optional, for a store that holds one user's session (`indexedDbStore`: the tabs of one
   * browser profile, whose key is that user's). Called before a token is used, with the key's
   * thumbprint: returns (or resolves) while the session goes on, and throws (or rejects) a
   * `DPoPError` with code `ERR_LOGIN_REQUIRED` once it ended (the user signed out), so that no
   * request carries the token. It should answer at once, and return a promise only when it must
   * look first. Its presence also says the store is one user's: a user's tokens
   * (`refreshToken`, `authorizationCode`) are shared through it without naming the session.
   */
  checkSession?(jkt: string): void | Promise<void>;
  /**
   * Optional: what this store cannot do where it runs, in a sentence, when it works in a lesser
   * way (`indexedDbStore` without Web Locks takes turns with a lease that a closed tab holds
   * until its TTL). createDPoPFetch reports it once, as a `store-error` event with reason
   * `degraded`; requests go on as usual.
   */
  readonly degraded?: string | undefined;
}

/** `key` must be a non-empty string. */
export function assertStoreKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw invalidType('key', 'a string');
  if (key === '') throw invalidValue('key', 'must not be empty');
}

/** `value` must be a string (the caller serialises; an empty string is a value). */
export function assertStoreValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw invalidType('value', 'a string');
}

/** `ttlSeconds` must be a finite number above 0. Returns it in whole milliseconds, at least 1. */
export function ttlMilliseconds(ttlSeconds: unknown): number {
  if (typeof ttlSeconds !== 'number') throw invalidType('ttlSeconds', 'a number');
  if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) throw invalidValue('ttlSeconds', 'must be a finite number of seconds above 0');
  return Math.max(1, Math.ceil(ttlSeconds * 1000));
}

/** A fresh lock token: a holder frees a lock only while it still holds this token. */
export function lockToken(): string {
  return crypto.randomUUID();
}

/** A value and its expiry (ms since the epoch), as adapters without native expiry keep it. */
export interface Expiring {
  value: string;
  expires: number;
}

/** The entry when it is one of ours and not yet expired at `now`; otherwise undefined. */
export function live(entry: unknown, now: number): Expiring | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { value, expires } = entry as Partial<Expiring>;
  return typeof value === 'string' && typeof expires === 'number' && expires > now ? { value, expires } : undefined;
}
