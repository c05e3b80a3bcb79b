// The token entries a fleet finds in its store (src/sharing/shared-token.ts, parse), at their
// limits: which are used as they are, which are reported and replaced. Each starts from a real
// entry: one instance fetches a token from the fake servers (test/support/fleet-servers.ts,
// which accept a token only with the key it is bound to), then the entry is rewritten and a
// joining instance is asked for the API. The wall clock is stopped, so limits are exact.
import { createHash } from 'node:crypto';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import * as jose from 'jose';
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPEvent, type DPoPStore } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';
import { API, fleetServers, TOKEN_ENDPOINT } from '../support/fleet-servers.ts';

const keyPair = await generateKeyPair();
const MAX_LIFE = 31_622_400_000; // 366 days, as grants/request.ts
const jkt = await jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK);
/** The store entry of the nonce of `space`, as src/sharing/shared-nonces.ts names it. */
const nonceEntry = (space: string) => `n:${createHash('sha256').update(`${jkt} ${space}`).digest('base64url')}`;

function instance(servers: ReturnType<typeof fleetServers>, store: DPoPStore) {
  const events: DPoPEvent[] = [];
  const tokens = clientCredentials({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'fleet', clientSecret: 'fleet-secret', scope: 'api' });
  return { events, api: createDPoPFetch({ keyPair, tokens, store, fetch: servers.fetch, onEvent: (e) => events.push(e) }) };
}

/**
 * The fleet's entry rewritten by `change` (given the entry and the stopped wall clock), then a
 * joining instance's first request: its status, the token requests it made, its store-error events.
 */
async function joining(change: (entry: Record<string, unknown>, now: number) => Record<string, unknown>) {
  const now = Date.now();
  const spy = vi.spyOn(Date, 'now').mockImplementation(() => now);
  onTestFinished(() => spy.mockRestore());
  const servers = fleetServers();
  const inner = memoryStore();
  let key = '';
  const reads: string[] = [];
  const store: DPoPStore = { ...inner, get: (k) => (reads.push(k), inner.get(k)), delete: inner.delete, lock: inner.lock, set: (k, v, ttl) => (k.startsWith('t:') && (key = k), inner.set(k, v, ttl)) };
  const first = await instance(servers, store).api(API);
  expect(first.status).toBe(200);
  await inner.set(key, JSON.stringify(change(JSON.parse((await inner.get(key))!), now)), 60);
  servers.reset();
  const { api, events } = instance(servers, store);
  const response = await api(API);
  await response.arrayBuffer();
  return { status: response.status, tokenRequests: servers.tokenRequests, issued: servers.issued.length, problems: events.flatMap((e) => (e.type === 'store-error' ? [e.detail] : [])), reads };
}

const used = { status: 200, tokenRequests: 0, issued: 0, problems: [], reads: expect.any(Array) };
// Read twice: before the lock, and under it (someone may have written meanwhile).
const replaced = (problem: string) => ({ status: 200, tokenRequests: 2, issued: 1, problems: [problem, problem], reads: expect.any(Array) });
const SHAPE = 'not a token entry of dpop-fetch';

describe('entries used as they are', () => {
  it('the entry as written → used', async () => {
    expect(await joining((e) => e)).toEqual(used);
  });

  it('a life of exactly 366 days → used', async () => {
    expect(await joining((e, now) => ({ ...e, iat: now, exp: now + MAX_LIFE }))).toEqual(used);
  });

  it('issued exactly 5 minutes ahead of this clock (another instance\'s clock) → used', async () => {
    expect(await joining((e, now) => ({ ...e, iat: now + 300_000, exp: now + 600_000 }))).toEqual(used);
  });

  it('a scope left out → used', async () => {
    expect(await joining(({ scope: _scope, ...e }) => e)).toEqual(used);
  });
});

describe("an expired entry: its token endpoint's nonce space still serves", () => {
  // The entry's `as` names the token endpoint's nonce space, whose nonce the fleet keeps in the
  // store: the joining instance sends it with its first token request, which the server takes.
  const expired = (e: Record<string, unknown>, now: number) => ({ ...e, iat: now - 400_000, exp: now - 100_000 });

  it('as the fleet wrote it → its nonce read from the store: 1 token round trip, nothing reported', async () => {
    const result = await joining(expired);
    expect(result).toEqual({ status: 200, tokenRequests: 1, issued: 1, problems: [], reads: expect.arrayContaining([nonceEntry('https://as.example AS')]) });
  });

  it('expired exactly now → only its space is used: nothing else in it is judged (here a wrong type)', async () => {
    const result = await joining((e, now) => ({ ...e, type: 'dpop', iat: now - 300_000, exp: now }));
    expect(result).toMatchObject({ status: 200, tokenRequests: 1, issued: 1, problems: [] });
  });

  it('a space of exactly 1100 characters → read (here it holds no nonce: the nonce retry)', async () => {
    const as = `https://${'a'.repeat(1081)}.example AS`;
    expect(as).toHaveLength(1100);
    const result = await joining((e, now) => ({ ...expired(e, now), as }));
    expect(result).toMatchObject({ status: 200, tokenRequests: 2, issued: 1, problems: [] });
    expect(result.reads).toContain(nonceEntry(as));
  });

  it('a space that is not a token endpoint\'s (no " AS" at its end), or of 1101 characters → never read: the nonce retry', async () => {
    for (const as of ['https://as.example', 'https://as.example AS x', `https://${'a'.repeat(1082)}.example AS`]) {
      const result = await joining((e, now) => ({ ...expired(e, now), as }));
      expect(result).toMatchObject({ status: 200, tokenRequests: 2, issued: 1, problems: [] });
      expect(result.reads).not.toContain(nonceEntry(as));
    }
  });
});

describe('entries reported and replaced', () => {
  const cases: Array<[string, (e: Record<string, unknown>, now: number) => Record<string, unknown>, string]> = [
    ['another version (v: 2)', (e) => ({ ...e, v: 2 }), SHAPE],
    ['iat as a string of digits', (e) => ({ ...e, iat: String(e.iat) }), SHAPE],
    ['exp as a string of digits', (e) => ({ ...e, exp: String(e.exp) }), SHAPE],
    ['exp equal to iat', (e, now) => ({ ...e, iat: now + 10_000, exp: now + 10_000 }), SHAPE],
    ['a life of 366 days and 1 ms', (e, now) => ({ ...e, iat: now, exp: now + MAX_LIFE + 1 }), SHAPE],
    ['issued 5 minutes and 1 ms ahead', (e, now) => ({ ...e, iat: now + 300_001, exp: now + 600_000 }), 'issued in the future'],
    ['type dpop (not DPoP)', (e) => ({ ...e, type: 'dpop' }), SHAPE],
    ['a token that is not a string', (e) => ({ ...e, token: 42 }), SHAPE],
    ['an empty token', (e) => ({ ...e, token: '' }), SHAPE],
    ['a token with a space', (e) => ({ ...e, token: `${e.token} x` }), SHAPE],
    ['a token of 65,537 characters', (e) => ({ ...e, token: 'a'.repeat(65_537) }), SHAPE],
    ['a scope that is not a string', (e) => ({ ...e, scope: ['api'] }), SHAPE],
    ['no jkt', ({ jkt: _jkt, ...e }) => e, 'a token bound to another key (jkt)'],
  ];
  for (const [what, change, problem] of cases) {
    it(`${what} → reported ("${problem}"), a token fetched`, async () => {
      expect(await joining(change)).toEqual(replaced(problem));
    });
  }

  it('a token of 65,536 printable characters → not refused as an entry (the server refuses the token, and it is renewed)', async () => {
    const result = await joining((e) => ({ ...e, token: 'a'.repeat(65_536) }));
    expect(result.problems).toEqual([]);
    expect(result.status).toBe(200);
    expect(result.issued).toBe(1);
  });
});
