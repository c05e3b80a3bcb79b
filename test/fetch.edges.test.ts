// createDPoPFetch at its edges: the bodies it cannot send twice, the redirects it cannot follow,
// the 400s it must not read, and the skewed clocks it must not retry for. Each case is one a
// caller meets with a browser, an upload or an odd server; an in-process fake server stands in
// for that server (the real peers' flows are in fetch.peers.test.ts and faults.test.ts).
import { describe, expect, it } from 'vitest';
import { createDPoPFetch, generateKeyPair } from '../src/index.ts';
import { caught, decodeProof, recordingFetch } from './helpers.ts';

const keyPair = await generateKeyPair();
const origin = 'https://rs.example';

/** A recording fake server, and the nonce each of its requests' proofs carried. */
function fake(handler: (request: Request, n: number) => Response | Promise<Response>) {
  const server = recordingFetch(handler);
  return { ...server, nonces: () => server.seen.map((r) => decodeProof(r.headers.get('dpop')!).claims.nonce) };
}

const nonceDemand = (nonce: string) => new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce } });
/** Demands the nonce `n-1` of a proof without it, after reading the body as a server would. */
const demanding = () => fake(async (req) => (await req.text(), decodeProof(req.headers.get('dpop')!).claims.nonce === 'n-1' ? new Response('ok') : nonceDemand('n-1')));

describe('bodies that cannot be sent twice', () => {
  it('a ReadableStream body and a nonce demand → ERR_BODY_NOT_REPLAYABLE, saying why and what to send instead, with the server\'s response', async () => {
    const server = demanding();
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('once')), c.close()) });
    const err = await caught(() => api(`${origin}/up`, { method: 'POST', body, duplex: 'half' } as RequestInit));
    expect(err.code).toBe('ERR_BODY_NOT_REPLAYABLE');
    expect(err.message).toBe(
      `The server at ${origin} asked for the request again (new nonce), but the body is a one-shot stream, already sent. Send it again, or pass a string, Blob, ArrayBuffer or FormData body.`,
    );
    expect(err.response.status).toBe(401);
    expect(err.response.headers.get('dpop-nonce')).toBe('n-1');
    expect(server.seen).toHaveLength(1);
  });

  it('an async iterable body (an async generator, as Node\'s fetch accepts) is one-shot too → ERR_BODY_NOT_REPLAYABLE, one request', async () => {
    const server = demanding();
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    async function* chunks() {
      yield new TextEncoder().encode('once');
    }
    const err = await caught(() => api(`${origin}/up`, { method: 'POST', body: chunks(), duplex: 'half' } as unknown as RequestInit));
    expect(err.code).toBe('ERR_BODY_NOT_REPLAYABLE');
    expect(server.seen).toHaveLength(1);
  });

  it('a Request passed alone, with a string body → replayable: the nonce demand is answered by sending the same body again', async () => {
    const server = demanding();
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    const response = await api(new Request(`${origin}/up`, { method: 'POST', body: 'payload' }));
    expect(response.status).toBe(200);
    expect(await Promise.all(server.seen.map((r) => r.text()))).toEqual(['payload', 'payload']);
    expect(server.nonces()).toEqual([undefined, 'n-1']);
  });
});

describe('redirects', () => {
  it('a Request made with redirect: "manual" gets the 302 itself: the Location is not followed', async () => {
    const server = fake(() => new Response(null, { status: 302, headers: { location: `${origin}/elsewhere` } }));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    const response = await api(new Request(`${origin}/start`, { redirect: 'manual' }));
    expect(response.status).toBe(302);
    expect(server.seen.map((r) => r.url)).toEqual([`${origin}/start`]);
  });

  it('a redirect the runtime hides (a browser\'s opaque redirect, status 0) → ERR_REDIRECT naming the server and what to do, with that response', async () => {
    // Node's fetch never hides a redirect; this is the response a browser gives for redirect: 'manual'.
    const opaque = Object.defineProperties(new Response(null), { type: { value: 'opaqueredirect' }, status: { value: 0 } });
    const server = fake(() => opaque);
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    const err = await caught(() => api(`${origin}/start`));
    expect(err.code).toBe('ERR_REDIRECT');
    expect(err.message).toBe(`The server at ${origin} redirected, but this runtime hides where to (an opaque redirect), so no proof can be made. Request the final URL, or pass redirect: 'manual'.`);
    expect(err.response).toBe(opaque);
    expect(server.seen).toHaveLength(1);
  });

  it('an answer that was not redirected → redirected is false, as fetch says', async () => {
    const server = fake(() => new Response('ok'));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    expect((await api(`${origin}/x`)).redirected).toBe(false);
  });

  it('21 redirects → ERR_REDIRECT with the last 3xx response; 21 requests, as fetch allows 20', async () => {
    const server = fake((_, n) => new Response(null, { status: 302, headers: { location: `${origin}/hop/${n}` } }));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    const err = await caught(() => api(`${origin}/start`));
    expect(err.code).toBe('ERR_REDIRECT');
    expect(err.response.status).toBe(302);
    expect(err.response.headers.get('location')).toBe(`${origin}/hop/21`);
    expect(server.seen).toHaveLength(21);
  });
});

describe('400s and 403s that are not asking for anything', () => {
  /** A first answer that gives the nonce n-1, then `second` for every later request. */
  const afterNonce = (second: () => Response) => fake((_, n) => (n === 1 ? new Response('ok', { headers: { 'dpop-nonce': 'n-1' } }) : second()));

  it('a 400 JSON use_dpop_nonce that gives no new nonce → returned as it is, its body unread for the caller; no retry', async () => {
    const server = afterNonce(() => new Response('{"error":"use_dpop_nonce"}', { status: 400, headers: { 'content-type': 'application/json' } }));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    await api(`${origin}/x`);
    const response = await api(`${origin}/x`);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'use_dpop_nonce' });
    expect(server.nonces()).toEqual([undefined, 'n-1']);
  });

  it('a 400 JSON whose DPoP-Nonce is the one just sent → returned without its body being read at all (nothing new to retry with)', async () => {
    let pulled = false;
    const body = () =>
      new ReadableStream({ pull: (c) => ((pulled = true), c.enqueue(new TextEncoder().encode('{"error":"use_dpop_nonce"}')), c.close()) }, { highWaterMark: 0 });
    const server = afterNonce(() => new Response(body(), { status: 400, headers: { 'content-type': 'application/json', 'dpop-nonce': 'n-1' } }));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    await api(`${origin}/x`);
    const response = await api(`${origin}/x`);
    expect(pulled).toBe(false);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'use_dpop_nonce' });
    expect(server.seen).toHaveLength(2);
  });

  it('a use_dpop_nonce challenge with a new nonce on a 500, 429 or 200 → returned as it is: only a 400, 401 or 403 asks again', async () => {
    for (const status of [500, 429, 200]) {
      const server = fake(() => new Response('busy', { status, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' } }));
      const api = createDPoPFetch({ keyPair, fetch: server.fetch });
      const response = await api(`${origin}/x`);
      expect([response.status, await response.text()]).toEqual([status, 'busy']);
      expect(server.seen).toHaveLength(1);
    }
  });

  it('a 403 insufficient_scope from a server whose clock is an hour ahead → the clock is corrected, but the request is not sent again (only a refused proof is)', async () => {
    const ahead = new Date(Date.now() + 3_600_000).toUTCString();
    const server = fake(() => new Response(null, { status: 403, headers: { date: ahead, 'www-authenticate': 'DPoP error="insufficient_scope"' } }));
    const events: unknown[] = [];
    const api = createDPoPFetch({ keyPair, fetch: server.fetch, onEvent: (e) => events.push(e.type) });
    expect((await api(`${origin}/x`)).status).toBe(403);
    expect(server.seen).toHaveLength(1);
    expect(events).toEqual(['clock-skew']);
  });
});
