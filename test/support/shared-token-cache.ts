// The shared token cache (src/sharing/shared-token.ts) as createDPoPFetch builds it, for the
// tests that call it directly: one fleet entry (`t:entry`) of the key `jkt-1` in a guarded store,
// renewal 30 s before expiry, tokenTimeout 30 s unless given.
import type { DPoPEvent } from '../../src/events.ts';
import type { TokenSet, TokenSource } from '../../src/grants/source.ts';
import { guardStore } from '../../src/sharing/guarded-store.ts';
import { sharedTokenCache } from '../../src/sharing/shared-token.ts';
import type { DPoPStore } from '../../src/store/dpop-store.ts';

export interface CacheOptions {
  /** false: no entry name, as for a source without identity. */
  named?: boolean;
  /** ms (tokenTimeout). */
  timeout?: number;
  /** Gets the store's events. */
  onStoreEvent?: (event: DPoPEvent) => void;
  /** Gets every nonce space the cache seeds from the store. */
  seed?: (space: string) => void;
}

export function cacheOver(store: DPoPStore, getToken: TokenSource['getToken'], { named = true, timeout = 30_000, onStoreEvent, seed }: CacheOptions = {}) {
  return sharedTokenCache({
    source: { identity: 'test source', getToken },
    store: guardStore(store, onStoreEvent),
    names: Promise.resolve({ jkt: 'jkt-1', key: named ? 't:entry' : undefined }),
    nonces: { seed: async (space) => seed?.(space), lastAs: undefined },
    renewBefore: 30_000,
    timeout,
    onEvent: undefined,
  });
}

/** A DPoP token of exactly 300 s from now. */
export const token300 = (accessToken: string): TokenSet => ({ accessToken, tokenType: 'DPoP', expiresAt: Date.now() + 300_000, receivedAt: Date.now() });
