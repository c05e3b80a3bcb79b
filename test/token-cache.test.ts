// The token cache (src/token-cache.ts) through createDPoPFetch, on a clock the test moves: when a
// token is renewed (README: `renewBefore` ahead of expiry, never before three quarters of its
// lifetime, and a second early for the whole seconds of expires_in), what its event says, and a
// failed request that nobody waits for any more. Against oidc-provider: fetch.peers.test.ts.
import { describe, expect, it, vi } from 'vitest';
import { createDPoPFetch, generateKeyPair, type DPoPEvent, type TokenSet, type TokenSource } from '../src/index.ts';
import { caught } from './helpers.ts';

const keyPair = await generateKeyPair();
let shift = 0;

/**
 * Runs `test` with performance.now() moved ahead: `at(ms)` makes the monotonic clock read that
 * many ms after the start (plus the little real time that passes), a billion ms in, as in a
 * long-running process. The real clock is back before the test ends, so vitest's own timing is true.
 */
async function withClock(test: (at: (ms: number) => void) => Promise<void>) {
  const real = performance.now.bind(performance);
  const origin = real();
  const spy = vi.spyOn(performance, 'now').mockImplementation(() => real() + shift);
  try {
    await test((ms) => (shift = 1e9 + ms - (real() - origin)));
  } finally {
    spy.mockRestore();
  }
}

/** A source of `lifetime`-ms tokens (none stated when undefined), counting its calls. */
function source(lifetime: number | undefined) {
  const calls: number[] = [];
  const tokens: TokenSource = {
    async getToken(): Promise<TokenSet> {
      calls.push(performance.now());
      const receivedAt = Date.now();
      return { accessToken: `at-${calls.length}`, tokenType: 'DPoP', receivedAt, expiresAt: lifetime === undefined ? undefined : receivedAt + lifetime };
    },
  };
  return { tokens, calls };
}

const api = (tokens: TokenSource, options: { renewBefore?: number; onEvent?: (event: DPoPEvent) => void } = {}) =>
  createDPoPFetch({ keyPair, tokens, fetch: (async () => new Response('ok')) as typeof fetch, ...options });

const get = async (call: ReturnType<typeof api>) => expect((await call('https://rs.example/x')).status).toBe(200);

describe('token cache renewal', () => {
  // A second of margin on each side of a bound: the real time a call takes is added.
  it('a 300 s token with renewBefore 30 s: kept until 269 s of age (300 - 1 - 30), renewed from then on', () =>
    withClock(async (at) => {
      const { tokens, calls } = source(300_000);
      const call = api(tokens);
      at(0);
      await get(call);
      at(268_000);
      await get(call);
      expect(calls).toHaveLength(1);
      at(270_000);
      await get(call);
      expect(calls).toHaveLength(2);
    }));

  it('a 60 s token: renewed at three quarters of its lifetime (44 s = 60 - 1 - 15), not 30 s ahead', () =>
    withClock(async (at) => {
      const { tokens, calls } = source(60_000);
      const call = api(tokens);
      at(0);
      await get(call);
      at(43_000);
      await get(call);
      expect(calls).toHaveLength(1);
      at(45_000);
      await get(call);
      expect(calls).toHaveLength(2);
    }));

  it('a token without expires_in is kept, and its event says so (expiresIn undefined)', () =>
    withClock(async (at) => {
      const events: DPoPEvent[] = [];
      const { tokens, calls } = source(undefined);
      const call = api(tokens, { onEvent: (event) => events.push(event) });
      at(0);
      await get(call);
      at(86_400_000);
      await get(call);
      expect(calls).toHaveLength(1);
      expect(events.filter((e) => e.type === 'token')).toEqual([{ type: 'token', tokenType: 'DPoP', expiresIn: undefined, renewal: false, scope: undefined }]);
    }));
});

describe('token cache failures', () => {
  it('a token request that fails after its only caller gave up is no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const tokens: TokenSource = { getToken: () => new Promise((_, reject) => setTimeout(() => reject(new Error('token endpoint down')), 30)) };
      const call = api(tokens);
      const err = await caught(() => call('https://rs.example/x', { signal: AbortSignal.timeout(5) }));
      expect(err.name).toMatch(/AbortError|TimeoutError/);
      await new Promise((resolve) => setTimeout(resolve, 100)); // the request fails meanwhile
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
});
