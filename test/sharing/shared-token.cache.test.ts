// The shared token cache (src/sharing/shared-token.ts) as createDPoPFetch calls it, called
// directly: what it gives the token source, what it answers (the token, and whether it was
// fetched for this call), and the caller's signal, whatever the TokenCache type allows (a null
// signal, one already aborted). The source here hands out numbered tokens; the store is a
// guarded memoryStore. What servers see of it: shared-token.test.ts and the *.peers tests.
import { describe, expect, it } from 'vitest';
import type { TokenContext } from '../../src/context.ts';
import type { TokenSource } from '../../src/grants/source.ts';
import type { DPoPEvent, DPoPStore } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';
import { cacheOver, token300 } from '../support/shared-token-cache.ts';

const URL_ = 'https://api.example/things';

/** A cache over `store` whose source records the context of every call, and its nonces every seed. */
function cache(store: DPoPStore = memoryStore(), named = true, getToken?: TokenSource['getToken']) {
  const contexts: TokenContext[] = [];
  const events: DPoPEvent[] = [];
  const seeds: string[] = [];
  let n = 0;
  const numbered: TokenSource['getToken'] = async (context) => (contexts.push(context), token300(`at-${++n}`));
  const get = cacheOver(store, getToken ?? numbered, { named, onStoreEvent: (e) => events.push(e), seed: (space) => seeds.push(space) });
  return { get, contexts, store, events, seeds };
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
  it('a store without a lock, or whose lock fails → the source is told the lock is not held', async () => {
    const { lock: _lock, ...unlocked } = memoryStore();
    const failing = { ...memoryStore(), lock: async () => Promise.reject(new Error('store down')) };
    for (const store of [unlocked, failing]) {
      const { get, contexts } = cache(store);
      await get(base, null, URL_);
      expect(contexts[0]).toMatchObject({ shared: { key: 't:entry', locked: false } });
    }
  });

  it("the token endpoint's nonce space: none known at a cold start → none seeded; an expired entry's → seeded", async () => {
    const cold = cache();
    await cold.get(base, null, URL_);
    expect(cold.seeds).toEqual([]);
    const store = memoryStore();
    const as = 'https://as.example AS';
    await store.set('t:entry', JSON.stringify({ v: 1, type: 'DPoP', token: 'at-old', jkt: 'jkt-1', iat: Date.now() - 400_000, exp: Date.now() - 100_000, as }), 60);
    const joining = cache(store);
    expect((await joining.get(base, null, URL_))[0].accessToken).toBe('at-1');
    expect(joining.seeds).toEqual([as]);
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
    const [again, fresh] = await get(base, null, URL_, other);
    expect([again, fresh]).toEqual([token, false]);
    expect(again).toBe(token); // the same held object: not read again from the store
  });

  it('a refused token when none is held here (another cache gave it) → a token fetched', async () => {
    const { get } = cache();
    const [token, fresh] = await get(base, null, URL_, { accessToken: 'at-elsewhere', tokenType: 'DPoP' });
    expect([token.accessToken, fresh]).toEqual(['at-1', true]);
  });

  it("an entry that is not JSON → reported as 'not JSON', a token fetched, the entry replaced", async () => {
    const store = memoryStore();
    await store.set('t:entry', '{"v":1,', 60);
    const { get, events } = cache(store);
    expect((await get(base, null, URL_))[0].accessToken).toBe('at-1');
    expect(events).toContainEqual({ type: 'store-error', operation: 'get', reason: 'unusable', detail: 'not JSON' });
    expect(JSON.parse((await store.get('t:entry'))!).token).toBe('at-1');
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

  it('aborted while the token is being fetched → its reason at once; the fetch goes on for the next call', async () => {
    let finish!: () => void;
    const slow = new Promise<void>((resolve) => (finish = resolve));
    const { get } = cache(memoryStore(), true, async () => (await slow, token300('at-slow')));
    const controller = new AbortController();
    const reason = new DOMException('stop', 'AbortError');
    const pending = get(base, controller.signal, URL_);
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(reason);
    finish(); // the token arrives right after: the call must have ended with the abort already
    await expect(pending).rejects.toBe(reason);
    expect((await get(base, null, URL_))[0].accessToken).toBe('at-slow');
  });
});
