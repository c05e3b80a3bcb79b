// Inside workerd: the README's Worker, called through SELF (the same module instance the
// runtime serves), fetches the API with DPoP. The resource server's answers (oauth4webapi
// validated the token and proof) are the judge.
import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { claimsOf, runFlow } from '../snippets/flow.mjs';

const path = (env as unknown as { API_PATH: string }).API_PATH;

describe('Cloudflare Workers (workerd): the README Worker with the built package', () => {
  it('runs in workerd, not Node', () => {
    expect(navigator.userAgent).toBe('Cloudflare-Workers');
  });

  it('token and API calls with nonces, renewal: every call 200, every token bound to one key', async () => {
    const result = await runFlow(() => SELF.fetch(`https://worker.example${path}`));
    expect(result.calls.filter((c) => c.status !== 200)).toEqual([]);
    expect(result.tokenIds).toHaveLength(2); // renewed inside the isolate, no request failed
    expect(result.jkts).toHaveLength(1); // both tokens bound to the isolate's one key
    expect(result.jkts[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(result.calls.every((c) => c.claims?.authorization_scheme === 'DPoP')).toBe(true);
  });

  it('concurrent requests share the token across request contexts, through a renewal, all 200', async () => {
    // Each SELF.fetch is its own request context in workerd; the token cache and the nonce
    // cache are shared by all of them, so one request's token fetch is awaited by others.
    const seen = new Set<string>();
    const statuses: number[] = [];
    for (let batch = 0; batch < 100 && seen.size < 3; batch++) {
      const responses = await Promise.all(Array.from({ length: 5 }, () => SELF.fetch(`https://worker.example${path}`)));
      for (const res of responses) {
        statuses.push(res.status);
        if (res.status === 200) seen.add(claimsOf(await res.json()).jti!);
        else await res.body?.cancel();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(seen.size).toBe(3); // two renewals happened while batches were in flight
  });
});
