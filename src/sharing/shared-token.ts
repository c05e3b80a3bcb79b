/**
 * One token for a fleet (issue 15): every instance whose store, token source identity and key
 * are the same holds the same access token. Each keeps a local copy, so a request with a
 * usable token makes no store round trip. The store is read when the local token is missing,
 * expired or due for renewal; then one instance takes the store's lock, reads again (someone
 * may just have written), fetches, and writes the token before it lets go; the others keep
 * using their still-valid token meanwhile, or, with none, wait for the holder's, bounded by
 * `tokenTimeout`. A holder that dies frees the lock when its TTL runs out. A store without a
 * lock (Workers KV) is read, then written by whoever fetched: at a cold start a few instances
 * may each fetch one, never fail.
 *
 * Stored: the access token, its type (DPoP only), scope, absolute wall-clock issue and expiry,
 * the key's thumbprint (`jkt`), and the token endpoint's nonce space. Never the private key, a
 * client secret or assertion, or a Bearer token (anyone who reads the store could use that; a
 * DPoP token is useless without the key). A refresh-token source keeps its refresh token beside
 * the entry itself, through `context.shared` (src/grants/refresh-token.ts).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
import type { TokenContext } from '../context.ts';
import type { EventListener } from '../events.ts';
import type { TokenSet, TokenSource } from '../grants/source.ts';
import type { TokenCache } from '../token-cache.ts';
import { BOUND_MS, FAILED, type GuardedStore } from './guarded-store.ts';
import type { SharedNonces } from './shared-nonces.ts';

/** A token this instance holds, when its life began (monotonic clock), and how long it is. */
interface Held {
  token: TokenSet;
  since: number;
  /** ms; undefined when the server gave no `expires_in`. */
  life: number | undefined;
  /** The token endpoint's nonce space, when known. */
  as?: string | undefined;
  /** Read from the store, not fetched by this instance. */
  stored?: boolean;
}

/** What a read of the store found. */
interface Seen {
  /** A valid DPoP token for this key. */
  held?: Held | undefined;
  /** The access token the entry holds, valid or not (for compare-and-delete). */
  raw?: string | undefined;
  /** The source gives Bearer tokens, which are never shared: each instance fetches its own. */
  bearer?: boolean;
  as?: string | undefined;
}

export interface SharedTokenOptions {
  source: TokenSource;
  store: GuardedStore;
  /** The key pair's thumbprint, and the entry's key: undefined when the source has no identity. */
  names: Promise<{ jkt: string; key: string | undefined }>;
  nonces: SharedNonces;
  /** ms before expiry to renew, at most a quarter of the lifetime (as token-cache.ts). */
  renewBefore: number;
  /** ms a token request may take (tokenTimeout). */
  timeout: number;
  onEvent: EventListener | undefined;
}

// As token-cache.ts: `expires_in` counts from issue, in whole seconds, and the answer spent
// time in flight, so a token is taken for a second shorter than it says.
const MARGIN_MS = 1000;
// A token without `expires_in` is shared as if it lived this long, then fetched again.
const UNKNOWN_LIFE_MS = 300_000;
// As grants/request.ts: at most 366 days.
const MAX_LIFE_MS = 31_622_400_000;
// An entry issued further in the future than this (another instance's clock) is not believed.
const SKEW_MS = 300_000;
// Waiting for the lock holder's token: the store is read again after 25 ms, then less often.
const FIRST_PAUSE_MS = 25;
const MAX_PAUSE_MS = 250;
// After a renewal in the background failed, the next one waits this long (the token still works).
const CALM_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or the signal's reason when it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | null): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** An entry's text as this instance can use it; `problem` says why it cannot, `raw` what it held. */
function parse(text: string, jkt: string): Seen & { problem?: string } {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  const { v, type, token, scope, iat, exp, as } = (entry ?? {}) as Record<string, unknown>;
  const shape = 'not a token entry of dpop-fetch';
  if (v !== 1 || typeof iat !== 'number' || typeof exp !== 'number' || !(exp > iat && exp - iat <= MAX_LIFE_MS)) return { problem: shape };
  const now = Date.now();
  if (iat > now + SKEW_MS) return { problem: 'issued in the future' };
  const space = typeof as === 'string' && as.length <= 1100 && / AS$/.test(as) ? as : undefined;
  if (exp <= now) return { as: space };
  if (type === 'Bearer') return { bearer: true, as: space };
  if (type !== 'DPoP' || typeof token !== 'string' || !/^[\x21-\x7e]{1,65536}$/.test(token) || (scope !== undefined && typeof scope !== 'string')) return { problem: shape };
  // The entry's name is hashed from the thumbprint, so another key's token here is a store
  // that mixes entries up: never sent with this key (RFC 9449 §6.1, cnf.jkt).
  if (entry.jkt !== jkt) return { problem: "a token bound to another key (jkt)" };
  const age = Math.max(0, now - iat);
  const token_: TokenSet = { accessToken: token, tokenType: 'DPoP', expiresAt: exp, receivedAt: iat, scope: scope as string | undefined };
  return { held: { token: token_, since: performance.now() - age, life: exp - iat, as: space, stored: true }, raw: token, as: space };
}

/** Keeps one token for a fleet; see the top of this file. */
export function sharedTokenCache(options: SharedTokenOptions): TokenCache {
  const { source, store, names, nonces, renewBefore, timeout, onEvent } = options;
  let current: Held | undefined;
  let inflight: Promise<Held> | undefined;
  // The token a resource server refused last: never taken from the store again.
  let refused: string | undefined;
  let calmUntil = -Infinity;
  let count = 0;

  const age = (held: Held) => performance.now() - held.since;
  const valid = (held: Held, at = age(held)) => held.life === undefined || at < held.life - MARGIN_MS;
  const fresh = (held: Held, at = age(held)) => held.life === undefined || at < held.life - MARGIN_MS - Math.min(renewBefore, held.life / 4);

  /** Reads the entry; keeps what it holds when that is better than the token held here. */
  async function read(key: string, jkt: string): Promise<Seen> {
    const text = await store.get(key);
    if (typeof text !== 'string') return {};
    const { problem, ...seen } = parse(text, jkt);
    if (problem) store.unusable(problem);
    const { held } = seen;
    // Better: not the token held here, not refused, and fresh, or at least valid when the
    // token held here no longer is (a new instance joining while the fleet renews). A token in
    // its last second is not valid, as in token-cache.ts: it could expire on its way.
    const better = held && held.token.accessToken !== refused && held.token.accessToken !== current?.token.accessToken && (fresh(held) || (valid(held) && !(current && valid(current))));
    if (!better) return { ...seen, held: undefined };
    current = held;
    return seen;
  }

  /** Gets a token from the source (under the lock when `locked`), keeps it, and shares it. */
  async function fetchToken(context: TokenContext, jkt: string, key: string | undefined, locked: boolean, seen: Seen): Promise<Held> {
    // A refused token leaves the store, but only if the entry still holds it: another instance
    // may have written a new one since (issue 15).
    if (key !== undefined && refused !== undefined && seen.raw === refused) await store.delete(key);
    // The token endpoint's nonce as the fleet knows it: no nonce retry for this request.
    const as = seen.as ?? current?.as ?? nonces.lastAs;
    if (as !== undefined) await nonces.seed(as);
    const shared = key === undefined ? {} : { shared: { store: store.view, key, locked } };
    const token = await source.getToken({ ...context, ...shared, signal: AbortSignal.timeout(timeout) });
    const life = token.expiresAt === undefined ? undefined : token.expiresAt - token.receivedAt;
    try {
      onEvent?.({ type: 'token', tokenType: token.tokenType, expiresIn: life === undefined ? undefined : Math.round(life / 1000), renewal: count++ > 0, scope: token.scope });
    } catch {
      // As in events.ts: a listener that throws never changes the outcome.
    }
    const held: Held = { token, since: performance.now(), life, as: nonces.lastAs };
    // As token-cache.ts: a token that cannot be kept (expires_in 0) serves this request only.
    if (!fresh(held, 0)) return held;
    current = held;
    if (key === undefined) return held;
    const shareLife = life ?? UNKNOWN_LIFE_MS;
    const iat = Date.now();
    const entry =
      token.tokenType === 'DPoP'
        ? { v: 1, type: 'DPoP', token: token.accessToken, scope: token.scope, jkt, iat, exp: iat + shareLife, as: held.as }
        : { v: 1, type: 'Bearer', iat, exp: iat + shareLife, as: held.as }; // no token: only "fetch your own"
    await store.set(key, JSON.stringify(entry), shareLife / 1000);
    return held;
  }

  /** A usable token: the store's, or one fetched by this instance under the fleet's lock. */
  async function acquire(context: TokenContext): Promise<Held> {
    const { jkt, key } = await names;
    if (key === undefined) return fetchToken(context, jkt, key, false, {}); // no identity: nothing to share
    let seen = await read(key, jkt);
    if (seen.held) return seen.held;
    if (seen.bearer || !store.hasLock) return fetchToken(context, jkt, key, false, seen);
    // A lock that outlives a token request, and a wait that outlives the lock: a dead holder's
    // lock is freed by its TTL before the instances waiting for it give up.
    const lockTtl = timeout + BOUND_MS;
    const deadline = performance.now() + lockTtl + BOUND_MS;
    for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(2 * pause, MAX_PAUSE_MS)) {
      const release = await store.lock(key, lockTtl / 1000);
      // The store failed: this instance goes on alone (and the store rests, see guarded-store.ts).
      if (release === FAILED) return fetchToken(context, jkt, key, false, seen);
      if (release) {
        try {
          seen = await read(key, jkt); // the last holder may have written between our read and our lock
          return seen.held ?? (await fetchToken(context, jkt, key, true, seen));
        } finally {
          void store.release(release);
        }
      }
      // Another instance is fetching. Without a token from it in time, fetch alone.
      if (performance.now() > deadline) return fetchToken(context, jkt, key, false, seen);
      await sleep(pause);
      seen = await read(key, jkt);
      if (seen.held) return seen.held;
      if (seen.bearer) return fetchToken(context, jkt, key, false, seen);
    }
  }

  /** One acquisition at a time in this instance, shared by every request that needs it. */
  function acquireOnce(context: TokenContext): Promise<Held> {
    if (!inflight) {
      // Set only when empty, emptied only here: when this runs, `inflight` is this acquisition.
      const run = (inflight = acquire(context).finally(() => (inflight = undefined)));
      run.catch(() => {}); // a renewal in the background has no one waiting for it
    }
    return inflight;
  }

  let thumb: string | undefined;
  return async (base, signal, url, refusedToken) => {
    // A store of one user's session says first whether the user is still signed in: after a
    // sign-out, in this tab or another, no request carries a token (issue 16).
    if (store.oneUser) {
      const check = store.session((thumb ??= (await names).jkt));
      if (check) await abortable(check, signal);
    }
    if (refusedToken && current?.token === refusedToken) {
      refused = refusedToken.accessToken;
      current = undefined;
    }
    const held = current;
    if (held && fresh(held)) return [held.token, false];
    const context = { ...base, url }; // the request's URL, for a source that finds its server from it (RFC 9728)
    if (held && valid(held)) {
      // Due for renewal, still valid: requests go on with it while the fleet renews it once.
      if (performance.now() >= calmUntil) acquireOnce(context).catch(() => (calmUntil = performance.now() + CALM_MS));
      return [held.token, false];
    }
    const got = await abortable(acquireOnce(context), signal);
    // A token fetched for this call is not renewed when refused; one read from the store is, once.
    return [got.token, !got.stored];
  };
}
