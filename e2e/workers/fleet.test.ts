// Inside workerd: two Workers, each in its own isolate with its own module state, run the
// README's fleet Worker (e2e/snippets/fleet-worker.ts) with one key, against the real peers in
// Node. Bound to one Durable Object, they take 1 token in all; bound to one KV namespace, which
// has no lock, at most 2. The authorization server counts the tokens; the resource server
// validates each and echoes its claims, whose cnf.jkt must be the key's (jose computed it).
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { claimsOf } from '../snippets/flow.mjs';

interface Fetcher {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}
const bindings = env as unknown as { DO_A: Fetcher; DO_B: Fetcher; KV_A: Fetcher; KV_B: Fetcher; STATS_URL: string; API_PATH: string; JKT: string };

interface Stats {
  tokenRequests: number;
  tokensIssued: number;
  apiRequests: number;
}
const stats = async (reset = false): Promise<Stats> => (await fetch(bindings.STATS_URL, { method: reset ? 'POST' : 'GET' })).json();

/** One request through each Worker, at once; what the API said to each. */
async function together(workers: Fetcher[]) {
  const responses = await Promise.all(workers.map((w) => w.fetch(`https://fleet.example${bindings.API_PATH}`)));
  return Promise.all(
    responses.map(async (r) => {
      if (r.status !== 200) return { status: r.status, error: await r.text() };
      const claims = claimsOf(await r.json());
      return { status: 200, jti: claims.jti, jkt: JSON.parse(claims.cnf!).jkt as string };
    }),
  );
}

describe('two Workers in workerd, separate isolates, one key', () => {
  it('bound to one Durable Object → 1 token issued in all, both 200 with the shared key; then no more token requests', async () => {
    await stats(true);
    const first = await together([bindings.DO_A, bindings.DO_B]);
    expect(first.map((r) => r.status)).toEqual([200, 200]);
    expect(first.map((r) => r.jkt)).toEqual([bindings.JKT, bindings.JKT]);
    expect(first[0]!.jti).toBe(first[1]!.jti);
    const cold = await stats();
    expect(cold.tokensIssued).toBe(1);
    const again = await together([bindings.DO_A, bindings.DO_B, bindings.DO_A, bindings.DO_B]);
    expect(again.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await stats()).tokensIssued).toBe(1);
    console.log(`Durable Object, 2 Workers: ${cold.tokensIssued} token issued, ${cold.tokenRequests} token and ${cold.apiRequests} API round trips for the first 2 requests`);
  });

  it('bound to one KV namespace (no lock) → at most 2 tokens issued, every request 200 with the shared key', async () => {
    await stats(true);
    const first = await together([bindings.KV_A, bindings.KV_B]);
    expect(first.map((r) => r.status)).toEqual([200, 200]);
    expect(first.map((r) => r.jkt)).toEqual([bindings.JKT, bindings.JKT]);
    const again = await together([bindings.KV_A, bindings.KV_B]);
    expect(again.map((r) => r.status)).toEqual([200, 200]);
    const cold = await stats();
    expect(cold.tokensIssued).toBeGreaterThanOrEqual(1);
    expect(cold.tokensIssued).toBeLessThanOrEqual(2);
    console.log(`Workers KV, 2 Workers: ${cold.tokensIssued} token(s) issued, ${cold.tokenRequests} token and ${cold.apiRequests} API round trips for 4 requests`);
  });
});
