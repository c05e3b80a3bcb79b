// Waiting for the fleet's lock holder (src/sharing/shared-token.ts, acquire): how often the
// store is looked at, when an instance gives up and fetches alone, and what ends the wait early.
// The cache is called directly over a guarded memoryStore whose lock another holder keeps; the
// timers and the monotonic clock are Vitest's fake ones, so every time below is exact.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenContext } from '../../src/context.ts';
import { memoryStore } from '../../src/store/index.ts';
import { cacheOver, token300 } from '../support/shared-token-cache.ts';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** An instance whose store's lock is held by someone else; `log` says when it looked, and when it fetched. */
async function waiting({ timeout = 500 } = {}) {
  const inner = memoryStore();
  await inner.lock!('t:entry', 3600); // the other holder, which never lets go
  const start = performance.now();
  const at = () => performance.now() - start;
  const log: string[] = [];
  const store = { ...inner, get: (key: string) => (key === 't:entry' && log.push(`get ${at()}`), inner.get(key)), lock: (key: string, ttl: number) => (log.push(`lock ${at()}`), inner.lock!(key, ttl)) };
  const get = cacheOver(store, async (context) => (log.push(`fetch ${at()} locked=${context.shared?.locked}`), token300('at-1')), { timeout });
  let done = false;
  const pending = get({ requireDPoP: true } as unknown as TokenContext, null, 'https://api.example/').then((answer) => ((done = true), answer));
  return { inner, log, pending, isDone: () => done };
}

describe('waiting for the lock holder', () => {
  it('looks again after 25 ms, then twice as long each time up to 250 ms; past the lock TTL and a second, fetches alone (not locked)', async () => {
    // tokenTimeout 0.5 s: the lock lives 1.5 s, the wait ends after 2.5 s.
    const { log, pending, isDone } = await waiting({ timeout: 500 });
    for (let i = 0; i < 200 && !isDone(); i++) await vi.advanceTimersByTimeAsync(25);
    const [token] = await pending;
    expect(token.accessToken).toBe('at-1');
    const locks = log.filter((l) => l.startsWith('lock')).map((l) => Number(l.split(' ')[1]));
    expect(locks).toEqual([0, 25, 75, 175, 375, 625, 875, 1125, 1375, 1625, 1875, 2125, 2375, 2625]);
    expect(log.at(-1)).toBe('fetch 2625 locked=false');
  });

  it('a look that falls exactly on the end of the wait → still waits: fetches alone at the next look', async () => {
    // tokenTimeout 0.375 s: the lock lives 1.375 s, the wait ends at 2.375 s, when it looks.
    const { log, pending, isDone } = await waiting({ timeout: 375 });
    for (let i = 0; i < 200 && !isDone(); i++) await vi.advanceTimersByTimeAsync(25);
    await pending;
    expect(log.filter((l) => l.startsWith('lock')).slice(-2)).toEqual(['lock 2375', 'lock 2625']);
    expect(log.at(-1)).toBe('fetch 2625 locked=false');
  });

  it('the holder writes a token meanwhile → taken at the next look, nothing fetched', async () => {
    const { inner, log, pending, isDone } = await waiting();
    await vi.advanceTimersByTimeAsync(100);
    await inner.set('t:entry', JSON.stringify({ v: 1, type: 'DPoP', token: 'at-holder', jkt: 'jkt-1', iat: Date.now(), exp: Date.now() + 300_000 }), 300);
    for (let i = 0; i < 200 && !isDone(); i++) await vi.advanceTimersByTimeAsync(25);
    expect((await pending)[0].accessToken).toBe('at-holder');
    expect(log.filter((l) => l.startsWith('fetch'))).toEqual([]);
    expect(log.at(-1)).toBe('get 175');
  });

  it('the holder writes that its tokens are Bearer (each fetches its own) → fetched at the next look, without waiting for the lock', async () => {
    const { inner, log, pending, isDone } = await waiting();
    await vi.advanceTimersByTimeAsync(100);
    await inner.set('t:entry', JSON.stringify({ v: 1, type: 'Bearer', iat: Date.now(), exp: Date.now() + 300_000 }), 300);
    for (let i = 0; i < 200 && !isDone(); i++) await vi.advanceTimersByTimeAsync(25);
    await pending;
    expect(log.at(-1)).toBe('fetch 175 locked=false');
  });
});
