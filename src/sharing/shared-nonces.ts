/**
 * Nonces shared by a fleet (issue 15). The latest `DPoP-Nonce` of each server, per origin and
 * nonce space (an authorization server's apart, as in nonce.ts), is written to the store when
 * it changes, and read when this instance first contacts an origin: a new instance's first
 * request to a server that demands nonces then costs one round trip, not two. Before a token
 * request, the token endpoint's nonce is read too (see shared-token.ts).
 *
 * A nonce is no secret (a server hands it to anyone who asks), but entries are named after the
 * key's thumbprint, so two fleets on one store never read each other's. The nonce cache of
 * createDPoPFetch is wrapped in place: its request path calls the same object as without a
 * store, and pays nothing for this file unless a store is given.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
import type { NonceCache } from '../nonce.ts';
import { sha256 } from './digest.ts';
import { FAILED, type GuardedStore } from './guarded-store.ts';

// A stale nonce costs one retry, never a failure; servers keep theirs for minutes (oidc-provider
// accepts one for five). Long enough to carry a nonce to the next instances that start.
const NONCE_TTL_S = 120;
// Workers KV takes about one write per second per key: a server that changes its nonce on every
// answer is followed at most that often.
const WRITE_EVERY_MS = 1000;
// RFC 9449 §8.1 (NQCHAR), and the 1024-character cap of nonce.ts: a stored value that is not a
// nonce is reported, never sent.
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]{1,1024}$/;
// The suffix nonce.ts (asNonceKey) gives an authorization server's nonce space.
const AS_SPACE = / AS$/;
// Spaces remembered here at most; past that, all are forgotten and learnt again.
const LIMIT = 1000;

/** The fleet's side of the nonce cache. */
export interface SharedNonces {
  /** Reads the fleet's nonce for `space` and keeps it, when the store has a valid one. */
  seed(space: string): Promise<void>;
  /** The authorization server's nonce space this instance learnt a nonce for last. */
  readonly lastAs: string | undefined;
}

/**
 * Wraps `nonces` in place: `learn` also writes to the store, and `firstContact` reads it first.
 *
 * @param jkt the key's thumbprint, which names this fleet's entries.
 * @param nonceWait how long requests wait for a first contact's answer (createDPoPFetch's option).
 */
export function shareNonces(nonces: NonceCache, store: GuardedStore, jkt: Promise<string>, nonceWait: number): SharedNonces {
  const { learn, firstContact } = nonces;
  // What the store holds for each space, as far as this instance knows (it read or wrote it):
  // a nonce is written only when it differs.
  const known = new Map<string, string>();
  const writtenAt = new Map<string, number>();
  // Origin → what lets go the requests that wait for its first contact.
  const waiting = new Map<string, () => void>();
  let lastAs: string | undefined;
  const keyOf = async (space: string) => `n:${await sha256(`${await jkt} ${space}`)}`;
  const bound = () => {
    if (known.size < LIMIT) return;
    known.clear();
    writtenAt.clear();
  };

  async function seed(space: string): Promise<void> {
    const value = await store.get(await keyOf(space));
    if (value === FAILED || value === undefined) return;
    if (!NONCE.test(value)) return store.unusable('a nonce that is not an RFC 9449 nonce');
    bound();
    known.set(space, value);
    learn(space, new Headers({ 'dpop-nonce': value }));
  }

  nonces.learn = (space, headers) => {
    const nonce = learn(space, headers);
    if (nonce !== undefined) {
      if (AS_SPACE.test(space)) lastAs = space;
      const now = performance.now();
      if (known.get(space) !== nonce && !(now - (writtenAt.get(space) ?? -Infinity) < WRITE_EVERY_MS)) {
        bound();
        known.set(space, nonce);
        writtenAt.set(space, now);
        void keyOf(space)
          .then((key) => store.set(key, nonce, NONCE_TTL_S))
          .then((written) => {
            // Not written: the next answer with this nonce tries again.
            if (!written && known.get(space) === nonce) known.delete(space);
          });
      }
    }
    waiting.get(space)?.();
    return nonce;
  };

  nonces.firstContact = (origin) => {
    const first = firstContact(origin);
    if (typeof first !== 'function') return first;
    // This request is the first to `origin`; the others wait for it (nonce.ts). It looks in the
    // store before it is sent. With the fleet's nonce, the others may go at once; without, they
    // wait for this request's answer (learn, above), or nonceWait should it never come.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      if (waiting.get(origin) !== done) return;
      waiting.delete(origin);
      clearTimeout(timer);
      first();
    };
    waiting.set(origin, done);
    return seed(origin).then(() => {
      if (nonces.get(origin) !== undefined) done();
      else if (waiting.get(origin) === done) timer = setTimeout(done, nonceWait);
    });
  };

  return {
    seed,
    get lastAs() {
      return lastAs;
    },
  };
}
