// The waits inside a request that the caller's signal can end (src/abort.ts), through
// createDPoPFetch: waiting for a token another call is fetching, and a first contact's wait for
// the nonce. A signal already aborted ends the wait at once; a wait that ends leaves nothing
// behind on the caller's signal (a listener per call would leak, and Node warns past 10) nor in
// the event loop (a timer of nonceWait would keep a script alive for up to a minute).
import { describe, expect, it } from 'vitest';
import { getEventListeners } from 'node:events';
import { createDPoPFetch, generateKeyPair, type TokenSource } from '../src/index.ts';
import { discover } from '../src/discovery.ts';

const keyPair = await generateKeyPair();

/** A token source whose one token request stays open until `release()`; `asked` once it is sent. */
function heldTokens() {
  let release!: () => void;
  let markAsked!: () => void;
  const asked = new Promise<void>((resolve) => (markAsked = resolve));
  const given = new Promise<void>((resolve) => (release = resolve));
  let requests = 0;
  const tokens: TokenSource = {
    getToken: async () => {
      requests++;
      markAsked();
      await given;
      return { accessToken: 'at-1', tokenType: 'DPoP', expiresIn: 300 };
    },
  };
  return { tokens, asked, release, requests: () => requests };
}

/** A fetch that answers 200 and, as some do, pays no attention to the request's signal. */
function deafApi() {
  const sent: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    sent.push(input instanceof Request ? input.url : String(input));
    return new Response('ok');
  }) as typeof globalThis.fetch;
  return { fetch, sent };
}

/** Active timers of this process (Node's own view of what keeps it alive). */
const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('waiting for a token another call is fetching', () => {
  it('a caller whose signal is already aborted is refused with its reason, not sent once the token comes', async () => {
    const held = heldTokens();
    const api = deafApi();
    const call = createDPoPFetch({ keyPair, tokens: held.tokens, fetch: api.fetch });
    const first = call('https://rs.example/a');
    await held.asked;
    const reason = new Error('the user left the page');
    const late = call('https://rs.example/b', { signal: AbortSignal.abort(reason) }).then(
      (response) => `sent: ${response.status}`,
      (err: unknown) => err,
    );
    held.release();
    expect(await late).toBe(reason);
    expect((await first).status).toBe(200);
    expect(api.sent).toEqual(['https://rs.example/a']);
    expect(held.requests()).toBe(1);
  });

  it('a signal aborted while it waits ends the wait with its reason; the token still serves the others', async () => {
    const held = heldTokens();
    const api = deafApi();
    const call = createDPoPFetch({ keyPair, tokens: held.tokens, fetch: api.fetch });
    const first = call('https://rs.example/a');
    await held.asked;
    const controller = new AbortController();
    const waiting = call('https://rs.example/b', { signal: controller.signal }).then(() => 'sent', (err: unknown) => err);
    const reason = new Error('cancelled');
    controller.abort(reason);
    expect(await waiting).toBe(reason);
    held.release();
    expect((await first).status).toBe(200);
    expect(api.sent).toEqual(['https://rs.example/a']);
  });

});

describe('waiting for server metadata (discover)', () => {
  it('calls that waited leave no listener on the signal they share', async () => {
    let answers = 0;
    const fetch = (async () => {
      answers++;
      return Response.json({ issuer: 'https://as.example', token_endpoint: 'https://as.example/token' });
    }) as typeof globalThis.fetch;
    const { signal } = new AbortController();
    for (let n = 0; n < 12; n++) expect((await discover('https://as.example', { fetch, signal })).token_endpoint).toBe('https://as.example/token');
    expect(getEventListeners(signal, 'abort')).toEqual([]);
    expect(answers).toBe(1); // the metadata was kept: every call but the first waited on the kept answer
  });

  it('a signal already aborted is refused with its reason while the metadata is on its way', async () => {
    const fetch = (async () => Response.json({ issuer: 'https://as2.example', token_endpoint: 'https://as2.example/token' })) as typeof globalThis.fetch;
    const reason = new Error('gave up');
    await expect(discover('https://as2.example', { fetch, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

describe('a first contact waiting for the nonce', () => {
  it('leaves no timer behind once the first answer came, well before nonceWait', async () => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    let sent = 0;
    const fetch = (async () => {
      if (++sent === 1) await answered;
      return new Response('ok', { headers: { 'dpop-nonce': 'n-1' } });
    }) as typeof globalThis.fetch;
    const call = createDPoPFetch({ keyPair, fetch, nonceWait: 60_000 });
    const before = timers();
    const lead = call('https://rs.example/a');
    const follower = call('https://rs.example/b'); // waits for the lead's answer, at most a minute
    await Promise.resolve();
    answer();
    expect((await Promise.all([lead, follower])).map((r) => r.status)).toEqual([200, 200]);
    expect(sent).toBe(2);
    expect(timers()).toBe(before);
  });
});
