// The shared token cache (src/sharing/shared-token.ts) as createDPoPFetch calls it, called
// directly: what it gives the token source, what it answers (the token, and whether it was
// fetched for this call), and the caller's signal, whatever the TokenCache type allows (a null
// signal, one already aborted). The source here hands out numbered tokens; the store is a
// guarded memoryStore. What servers see of it: shared-token.test.ts and the *.peers tests.
import { describe, expect, it } from 'vitest';
import type { TokenContext } from '../../src/context.ts';
import type { TokenSource } from '../../src/grants/source.ts';
import { guardStore } from '../../src/sharing/guarded-store.ts';
import { sharedTokenCache } from '../../src/sharing/shared-token.ts';
import { memoryStore } from '../../src/store/index.ts';

const URL_ = 'https://api.example/things';

/** A cache over `store` whose source records the context of every call. */
function cache(store = memoryStore(), named = true) {
  const key = named ? 't:entry' : undefined;
  const contexts: TokenContext[] = [];
  let n = 0;
  const source: TokenSource = {
    identity: 'test source',
    getToken: async (context) => (contexts.push(context), { accessToken: `at-${++n}`, tokenType: 'DPoP', expiresAt: Date.now() + 300_000, receivedAt: Date.now() }),
  };
  const get = sharedTokenCache({
    source,
    store: guardStore(store, undefined),
    names: Promise.resolve({ jkt: 'jkt-1', key }),
    nonces: { seed: async () => {}, lastAs: undefined },
    renewBefore: 30_000,
    timeout: 30_000,
    onEvent: undefined,
  });
  return { get, contexts, store };
}

const base = { requireDPoP: true } as unknown as TokenContext;

describe('what the source is given', () => {
  it("the request's URL, and the fleet's store under the entry's name, with the lock held", async () => {
    const { get, contexts } = cache();
    await get(base, null, URL_);
    expect(contexts).toHaveLength(1);
    expect(contexts[0]).toMatchObject({ requireDPoP: true, url: URL_, shared: { key: 't:entry', locked: true } });
    expect(contexts[0]!.signal).toBeInstanceOf(AbortSignal);
  });

  it('no entry name (a source without identity) → no store given', async () => {
    const { get, contexts } = cache(memoryStore(), false);
    await get(base, null, URL_);
    expect(contexts[0]!.shared).toBeUndefined();
  });
});

describe('what it answers', () => {
  it('a token fetched for this call → marked fresh (not renewed if refused); one read from the store → not', async () => {
    const store = memoryStore();
    const first = cache(store);
    const [token, fresh] = await first.get(base, null, URL_);
    expect([token.accessToken, fresh]).toEqual(['at-1', true]);
    expect(await first.get(base, null, URL_)).toEqual([token, false]); // held: as from the store
    const joining = cache(store);
    const [stored, storedFresh] = await joining.get(base, null, URL_);
    expect([stored.accessToken, storedFresh]).toEqual(['at-1', false]);
    expect(joining.contexts).toEqual([]);
  });

  it('the held token refused → dropped; the entry, still holding it, deleted; a new one fetched', async () => {
    const store = memoryStore();
    const { get } = cache(store);
    const [token] = await get(base, null, URL_);
    const [renewed, fresh] = await get(base, null, URL_, token);
    expect([renewed.accessToken, fresh]).toEqual(['at-2', true]);
    expect(JSON.parse((await store.get('t:entry'))!).token).toBe('at-2');
  });

  it('another token refused than the one held → the held one kept', async () => {
    const { get } = cache();
    const [token] = await get(base, null, URL_);
    const other = { ...token, accessToken: 'at-other' };
    expect(await get(base, null, URL_, other)).toEqual([token, false]);
  });
});

describe("the caller's signal", () => {
  it('null (no signal) → the token all the same', async () => {
    const { get } = cache();
    expect((await get(base, null, URL_))[0].accessToken).toBe('at-1');
  });

  it('already aborted → its reason at once, the token still fetched for the next call', async () => {
    const { get, contexts } = cache();
    const reason = new DOMException('stop', 'AbortError');
    await expect(get(base, AbortSignal.abort(reason), URL_)).rejects.toBe(reason);
    expect((await get(base, null, URL_))[0].accessToken).toBe('at-1');
    expect(contexts).toHaveLength(1);
  });
});
