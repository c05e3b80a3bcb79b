// When a shared token is used, renewed, or passed over (src/sharing/shared-token.ts, `valid`,
// `fresh` and `read`), to the millisecond. A token of 300 s is fresh until 269 s (a second of
// margin and 30 s of renewal before its end) and valid until 299 s. The cache is called directly
// over a guarded memoryStore; the source hands out numbered tokens of exactly 300 s; the wall
// clock and the monotonic one are Vitest's fake ones, moved by hand.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenContext } from '../../src/context.ts';
import { memoryStore } from '../../src/store/index.ts';
import { cacheOver, token300 } from '../support/shared-token-cache.ts';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const URL_ = 'https://api.example/things';
const base = { requireDPoP: true } as unknown as TokenContext;

/** An instance of the fleet over `store`; `fetched` counts its source's calls. */
function cache(store = memoryStore()) {
  let n = 0;
  const get = cacheOver(store, async () => token300(`at-${++n}`));
  /** The access token and whether it was fetched for this call. */
  const ask = async () => {
    const [token, fetched] = await get(base, null, URL_);
    return [token.accessToken, fetched];
  };
  return { ask, store, fetched: () => n };
}

/** Another instance's entry: token `token`, issued `age` ms ago, expiring `left` ms from now. */
const entry = (token: string, age: number, left: number) => JSON.stringify({ v: 1, type: 'DPoP', token, jkt: 'jkt-1', iat: Date.now() - age, exp: Date.now() + left });

/** Lets a renewal in the background finish. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('the token held here', () => {
  it('fresh until 269 s: at 268.999 s used, nothing renewed; at 269 s used while it is renewed behind it', async () => {
    const { ask, fetched } = cache();
    expect(await ask()).toEqual(['at-1', true]);
    vi.advanceTimersByTime(268_999);
    expect(await ask()).toEqual(['at-1', false]);
    await settle();
    expect(fetched()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await ask()).toEqual(['at-1', false]); // not "fetched for this call": renewed if refused
    await settle();
    expect(fetched()).toBe(2);
    expect(await ask()).toEqual(['at-2', false]);
  });

  it('valid until 299 s: at 298.999 s used; at 299 s (its last second) the call waits for a new one', async () => {
    const early = cache();
    await early.ask();
    vi.advanceTimersByTime(298_999);
    expect(await early.ask()).toEqual(['at-1', false]);
    const late = cache();
    await late.ask();
    vi.advanceTimersByTime(299_000);
    expect(await late.ask()).toEqual(['at-2', true]);
  });
});

describe("another instance's entry", () => {
  it('in its last second (0.5 s or 1 s left) → not taken: a token fetched; 1.001 s left → taken', async () => {
    for (const left of [500, 1000]) {
      const { ask, store } = cache();
      await store.set('t:entry', entry('at-other', 300_000 - left, left), 60);
      expect(await ask()).toEqual(['at-1', true]);
    }
    const { ask, store } = cache();
    await store.set('t:entry', entry('at-other', 298_999, 1001), 60);
    expect(await ask()).toEqual(['at-other', false]);
  });

  it('due for renewal, taken by a joining instance → used, then renewed behind it (its age counts from its iat)', async () => {
    const { ask, store, fetched } = cache();
    await store.set('t:entry', entry('at-other', 280_000, 20_000), 60);
    expect(await ask()).toEqual(['at-other', false]);
    expect(fetched()).toBe(0);
    expect(await ask()).toEqual(['at-other', false]);
    await settle();
    expect(fetched()).toBe(1);
  });

  it('while the token held here is due for renewal: another due token, or one in its last second → not taken, renewed from the source', async () => {
    for (const [age, left] of [
      [280_000, 20_000],
      [299_500, 500],
    ]) {
      const { ask, store, fetched } = cache();
      await ask();
      vi.advanceTimersByTime(275_000);
      await store.set('t:entry', entry('at-other', age!, left!), 60);
      expect(await ask()).toEqual(['at-1', false]);
      await settle();
      expect(fetched()).toBe(2);
      expect(await ask()).toEqual(['at-2', false]);
      expect(JSON.parse((await store.get('t:entry'))!).token).toBe('at-2');
    }
  });
});
