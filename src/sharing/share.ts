/**
 * What a fleet shares through createDPoPFetch's `store` (issue 15): one token (shared-token.ts)
 * and the servers' nonces (shared-nonces.ts), through a store whose failures never fail a
 * request (guarded-store.ts). This module and those it imports load only when a store is given
 * (`import()` in fetch.ts), so that the many users without a fleet do not download them; for
 * the same reason they import nothing the core path loads, only its types.
 */
import type { TokenContext } from '../context.ts';
import type { TokenSource } from '../grants/source.ts';
import type { DPoPStore } from '../store/dpop-store.ts';
import type { TokenCache } from '../token-cache.ts';
import { sha256, thumbprint } from './digest.ts';
import { guardStore } from './guarded-store.ts';
import { shareNonces } from './shared-nonces.ts';
import { sharedTokenCache } from './shared-token.ts';

/** The options of createDPoPFetch this needs (checked there). */
export interface SharingOptions {
  store?: DPoPStore | undefined;
  tokens?: TokenSource | undefined;
  renewBefore?: number | undefined;
  tokenTimeout?: number | undefined;
  nonceWait?: number | undefined;
}

/**
 * Wraps the nonce cache of `context` to share nonces, and returns the token cache that shares
 * tokens (undefined without a token source).
 */
export function share(context: TokenContext, options: SharingOptions): TokenCache | undefined {
  const { tokens, renewBefore = 30, tokenTimeout = 30, nonceWait = 3000 } = options;
  const store = guardStore(options.store!, context.onEvent);
  const jkt = thumbprint(context.keyPair);
  const nonces = shareNonces(context.nonces, store, jkt, nonceWait);
  if (!tokens) return undefined;
  // One entry per token source identity and key: two clients never share one, and a token is
  // never used with a key it is not bound to. A source without an identity shares nonces only.
  // A user's tokens whose identity does not name the user go only through a store of one user's
  // session: a server that holds one key for many users would otherwise hand one user's tokens
  // to another (issue 16).
  const { identity, forUser } = tokens;
  const shared = typeof identity === 'string' && (!forUser || store.oneUser);
  if (typeof identity === 'string' && !shared) {
    store.refused("a user's tokens (refreshToken, authorizationCode) through a store that is not one user's: each instance keeps its own; name the session (session option) to share them");
  }
  const names = jkt.then(async (thumb) => ({ jkt: thumb, key: shared ? `t:${await sha256(JSON.stringify([identity, thumb]))}` : undefined }));
  return sharedTokenCache({ source: tokens, store, names, nonces, renewBefore: renewBefore * 1000, timeout: tokenTimeout * 1000, onEvent: context.onEvent });
}
