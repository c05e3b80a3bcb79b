// One grant request (src/grants/request.ts) against an in-process fake token endpoint passed as
// `fetch`: what a token answer becomes (parseTokenResponse), which refusals are retried and how
// often (a nonce, a corrected clock, a re-signed assertion), and what the errors say. Proofs and
// assertions are checked with jose. What oidc-provider accepts is in grants.peers.test.ts; the
// same failures over real HTTP are in faults.test.ts.
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { clientCredentials, generateKeyPair, OAuthError, refreshToken, type TokenContext } from '../../src/index.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { parseTokenResponse } from '../../src/grants/request.ts';
import { caught, recordingFetch, verifyProof } from '../helpers.ts';

const keyPair = await generateKeyPair();
const assertionKey = await generateKeyPair();
const ENDPOINT = 'https://as.example/token';
const HOUR = 3_600_000;
const ok = (extra: Record<string, unknown> = {}, init: ResponseInit = {}) => Response.json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 60, ...extra }, init);
const refusal = (error: string, headers: Record<string, string> = {}, status = 400, extra: Record<string, unknown> = {}) => Response.json({ error, ...extra }, { status, headers });
/** An HTTP-date `ms` away from now. */
const dateIn = (ms: number) => new Date(Date.now() + ms).toUTCString();

function contextFor(fetch: typeof globalThis.fetch, signal?: AbortSignal): TokenContext {
  return { keyPair, fetch, nonces: createNonceCache(), clock: createClock(), requireDPoP: false, signal };
}
/** A client-credentials source with a secret, or with a private_key_jwt assertion (`jwt`). */
const source = (jwt = false) =>
  clientCredentials(jwt ? { tokenEndpoint: ENDPOINT, clientId: 'app', clientAssertionKey: assertionKey } : { tokenEndpoint: ENDPOINT, clientId: 'app', clientSecret: 's3cret' });

describe('parseTokenResponse: what a 200 answer becomes', () => {
  const response = new Response(null, { status: 200 });
  const parse = (json: unknown, requireDPoP = false) => parseTokenResponse(json, response, 1_000_000, requireDPoP);
  const failure = (json: unknown, requireDPoP = false) => {
    try {
      parse(json, requireDPoP);
    } catch (err) {
      return err as any;
    }
    throw new Error('expected a refusal');
  };

  it('a body that is a JSON string or number → ERR_TOKEN_RESPONSE "not a JSON object", with the response kept', () => {
    for (const json of ['at-1', 5]) {
      const err = failure(json);
      expect(err).toMatchObject({ code: 'ERR_TOKEN_RESPONSE', status: 200 });
      expect(err.message).toContain('the body is not a JSON object of at most 1 MiB');
      expect(err.response).toBe(response);
    }
  });

  it('a token_type of 100 characters → ERR_TOKEN_TYPE quoting its first 40 only; Bearer under requireDPoP → the message names requireDPoP', () => {
    const err = failure({ access_token: 'at-1', token_type: 'x'.repeat(100) });
    expect(err.code).toBe('ERR_TOKEN_TYPE');
    expect(err.message).toContain(`of type "${'x'.repeat(40)}"; only DPoP and Bearer tokens can be used.`);
    expect(err.response).toBe(response);
    expect(failure({ access_token: 'at-1', token_type: 'Bearer' }, true).message).toContain('only DPoP tokens can be used (requireDPoP).');
  });

  it('expires_in as digits with a space around, 13 digits, or a list → ERR_TOKEN_RESPONSE; 12 digits in a string are read', () => {
    for (const expires of [' 300', '300 ', '1234567890123', [300]]) {
      expect(failure({ access_token: 'at-1', token_type: 'DPoP', expires_in: expires }).message).toContain('"expires_in" is not a non-negative number of seconds');
    }
    expect(parse({ access_token: 'at-1', token_type: 'DPoP', expires_in: '000000000300' }).expiresAt).toBe(1_000_000 + 300_000);
  });

  it('scope and refresh_token that are not strings → left out; strings → kept', () => {
    expect(parse({ access_token: 'at-1', token_type: 'DPoP', scope: ['api'], refresh_token: 42 })).toMatchObject({ scope: undefined, refreshToken: undefined });
    expect(parse({ access_token: 'at-1', token_type: 'DPoP', scope: 'api', refresh_token: 'rt-1' })).toMatchObject({ scope: 'api', refreshToken: 'rt-1' });
  });
});

describe('the request: headers, redirects, statuses', () => {
  it('POSTs a form that asks for JSON, with a proof jose accepts for the endpoint', async () => {
    const as = recordingFetch(() => ok());
    await source().getToken(contextFor(as.fetch));
    const [request] = as.seen;
    expect(request!.headers.get('accept')).toBe('application/json');
    expect(request!.headers.get('content-type')).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect((await verifyProof(request!.headers.get('dpop')!)).payload).toMatchObject({ htm: 'POST', htu: ENDPOINT });
  });

  it('HTTP 299 with a token → the token (2xx is success)', async () => {
    const as = recordingFetch(() => ok({}, { status: 299 }));
    expect((await source().getToken(contextFor(as.fetch))).accessToken).toBe('at-1');
  });

  it("a browser's opaque redirect (redirect: 'manual', status 0) or a 302 → ERR_TOKEN_REDIRECT saying credentials never follow one", async () => {
    const opaque = Object.defineProperty(Response.error(), 'type', { value: 'opaqueredirect' });
    for (const [answer, status] of [[opaque, 0], [new Response(null, { status: 302, headers: { location: 'https://elsewhere.example/' } }), 302]] as const) {
      const err = await caught(() => source().getToken(contextFor(async () => answer)));
      expect(err).toMatchObject({ code: 'ERR_TOKEN_REDIRECT', status });
      expect(err.message).toBe(`The token endpoint ${ENDPOINT} redirected (HTTP ${status}); credentials never follow one. Use the final URL from the server's metadata.`);
    }
  });

  it('error and error_description longer than 100 and 500 characters → cut to those lengths', async () => {
    const as = recordingFetch(() => refusal('e'.repeat(150), {}, 400, { error_description: 'd'.repeat(600) }));
    const err = await caught(() => source().getToken(contextFor(as.fetch)));
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.error).toBe('e'.repeat(100));
    expect(err.error_description).toBe('d'.repeat(500));
  });
});

describe('secrets scrubbed from server text', () => {
  it('an empty refresh token (a server that rotated to "") → nothing scrubbed for it: the description is kept as sent', async () => {
    const as = recordingFetch((_, n) => (n === 1 ? ok({ refresh_token: '' }) : refusal('invalid_grant', {}, 400, { error_description: 'grant revoked' })));
    const tokens = refreshToken({ tokenEndpoint: ENDPOINT, clientId: 'spa', refreshToken: 'rt-0' });
    await tokens.getToken(contextFor(as.fetch));
    const err = await caught(() => tokens.getToken(contextFor(as.fetch)));
    expect(err.error_description).toBe('grant revoked');
    expect(new URLSearchParams(await as.seen[1]!.text()).get('refresh_token')).toBe('');
  });
});

describe('no answer', () => {
  it('the connection fails → ERR_TOKEN_NETWORK that says so (nothing about reading); timed out → "did not answer in time"', async () => {
    const broken = async () => Promise.reject(new TypeError('fetch failed'));
    const failed = await caught(() => source().getToken(contextFor(broken)));
    expect(failed).toMatchObject({ code: 'ERR_TOKEN_NETWORK', status: 0 });
    expect(failed.message).toBe(`The connection to the token endpoint ${ENDPOINT} failed. Check the URL and the network.`);
    const timeout = new DOMException('The operation timed out.', 'TimeoutError');
    const late = await caught(() => source().getToken(contextFor(broken, AbortSignal.abort(timeout))));
    expect(late.message).toBe(`The token endpoint ${ENDPOINT} did not answer in time. Raise tokenTimeout or check the server's health.`);
    expect(late.cause).toBe(timeout);
  });

  it('the signal aborted for another reason → rejects with that reason, as fetch does', async () => {
    const reason = new Error('the caller gave up');
    const err = await caught(() => source().getToken(contextFor(async () => Promise.reject(new TypeError('fetch failed')), AbortSignal.abort(reason))));
    expect(err).toBe(reason);
  });
});

describe('retries: each cause once', () => {
  it('a nonce demand carrying the nonce the proof already had → not retried: OAuthError use_dpop_nonce', async () => {
    const as = recordingFetch((_, n) => (n === 1 ? ok({ expires_in: 0 }, { headers: { 'dpop-nonce': 'n-1' } }) : refusal('use_dpop_nonce', { 'dpop-nonce': 'n-1' })));
    const context = contextFor(as.fetch);
    await source().getToken(context);
    const err = await caught(() => source().getToken(context));
    expect(err).toMatchObject({ error: 'use_dpop_nonce', status: 400 });
    expect(as.seen).toHaveLength(2);
    expect((await verifyProof(as.seen[1]!.headers.get('dpop')!)).payload.nonce).toBe('n-1');
  });

  it('invalid_grant from a server whose Date is an hour ahead → not retried; its advice, not the clock', async () => {
    const as = recordingFetch(() => refusal('invalid_grant', { date: dateIn(HOUR) }));
    const err = await caught(() => source().getToken(contextFor(as.fetch)));
    expect(err.message).toContain('Start the grant again.');
    expect(err.message).not.toContain(' s off');
    expect(as.seen).toHaveLength(1);
  });

  it("invalid_dpop_proof, and its Date moves again on the retry → retried once only, then the clock's advice", async () => {
    // Were it retried again, the third answer would be a token.
    const as = recordingFetch((_, n) => (n < 3 ? refusal('invalid_dpop_proof', { date: dateIn(n === 1 ? HOUR : -HOUR) }) : ok()));
    const err = await caught(() => source().getToken(contextFor(as.fetch)));
    expect(err).toMatchObject({ error: 'invalid_dpop_proof' });
    expect(err.message).toMatch(/Its Date is -3[56]\d\d s off: check the system clock\./);
    expect(as.seen).toHaveLength(2);
  });

  it('private_key_jwt refused invalid_client with no Date → not retried: the advice names the assertion key', async () => {
    const as = recordingFetch(() => refusal('invalid_client', {}, 401));
    const err = await caught(() => source(true).getToken(contextFor(as.fetch)));
    expect(err.message).toContain("Check that the server has clientAssertionKey's public key for ES256.");
    expect(as.seen).toHaveLength(1);
  });

  it('private_key_jwt refused invalid_client by a server an hour ahead → once more with an assertion of its time, then the refusal', async () => {
    const as = recordingFetch((_, n) => (n < 3 ? refusal('invalid_client', { date: dateIn(HOUR) }, 401) : ok()));
    const err = await caught(() => source(true).getToken(contextFor(as.fetch)));
    expect(err).toMatchObject({ error: 'invalid_client', status: 401 });
    expect(as.seen).toHaveLength(2);
    const iat = async (request: Request) => jose.decodeJwt(new URLSearchParams(await request.text()).get('client_assertion')!).iat!;
    expect((await iat(as.seen[1]!)) - (await iat(as.seen[0]!))).toBeGreaterThan(3500);
  });

  it('private_key_jwt refused invalid_grant by a server an hour ahead → not retried', async () => {
    const as = recordingFetch(() => refusal('invalid_grant', { date: dateIn(HOUR) }));
    expect(await caught(() => source(true).getToken(contextFor(as.fetch)))).toMatchObject({ error: 'invalid_grant' });
    expect(as.seen).toHaveLength(1);
  });
});

describe('Retry-After, quoted only when it is what RFC 9110 §10.2.3 allows', () => {
  const message = async (retryAfter: string) => (await caught(() => source().getToken(contextFor(async () => refusal('temporarily_unavailable', { 'retry-after': retryAfter }, 503))))).message as string;

  it('an HTTP-date → "wait until" that date', async () => {
    expect(await message('Wed, 21 Oct 2037 07:28:00 GMT')).toContain('It asks to wait until Wed, 21 Oct 2037 07:28:00 GMT (Retry-After) before retrying.');
  });

  it('digits with text before or after, or the epoch as a date → not quoted', async () => {
    for (const value of ['in 30', '30 s', 'Thu, 01 Jan 1970 00:00:00 GMT']) expect(await message(value)).not.toContain('Retry-After');
  });
});
