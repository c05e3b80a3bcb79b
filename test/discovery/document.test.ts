// The parts every metadata document goes through (src/discovery/document.ts), one by one: the
// options check, the URL checks, HTTP freshness, the errors of a request that got no answer,
// the GET itself (against in-process fake servers: each answer is one a real server can send),
// and the DPoP algorithm check. The whole path runs against real servers in
// discovery.peers.test.ts (oidc-provider) and metadata-faults.test.ts (node:http).
import { describe, expect, it } from 'vitest';
import { checkDiscoveryOptions, checkDPoPAlgs, freshness, getDocument, isStringList, unreachable, urlProblem } from '../../src/discovery/document.ts';
import { caught } from '../helpers.ts';

const url = new URL('https://as.example/.well-known/oauth-authorization-server');

describe('checkDiscoveryOptions', () => {
  it('names the option that is wrong', () => {
    expect(() => checkDiscoveryOptions(null as never)).toThrow('"options" must be an object');
    expect(() => checkDiscoveryOptions({ signal: 'soon' as never })).toThrow('"options.signal" must be an AbortSignal');
    expect(() => checkDiscoveryOptions({ signal: {} as never })).toThrow('"options.signal" must be an AbortSignal');
    expect(() => checkDiscoveryOptions({ allowInsecureHttp: 'yes' as never })).toThrow('"options.allowInsecureHttp" must be a boolean');
  });

  it('takes a real AbortSignal (also a timeout one), and the fetch given', () => {
    const send = (async () => new Response()) as typeof fetch;
    expect(checkDiscoveryOptions({ signal: new AbortController().signal, fetch: send })).toBe(send);
    expect(typeof checkDiscoveryOptions({ signal: AbortSignal.timeout(60_000) })).toBe('function');
  });
});

describe('urlProblem', () => {
  it('says what is wrong', () => {
    expect(urlProblem(42, false)).toBe('is not a string');
    expect(urlProblem(new URL('https://as.example'), false)).toBe('is not a string');
    expect(urlProblem('/token', false)).toBe('is not an absolute URL');
    expect(urlProblem('ftp://127.0.0.1/token', true)).toMatch(/^is not an https: URL/);
    expect(urlProblem('ws://localhost/token', false)).toMatch(/^is not an https: URL/);
    expect(urlProblem('https://user@as.example/token', false)).toBe('carries credentials');
    expect(urlProblem('https://:pass@as.example/token', false)).toBe('carries credentials');
    expect(urlProblem('https://as.example/token#top', false)).toBe('has a fragment');
    expect(urlProblem('https://as.example/token#', false)).toBe('has a fragment'); // URL drops an empty fragment
  });

  it('returns the URL when nothing is wrong', () => {
    expect(urlProblem('https://as.example/t', false)).toEqual(new URL('https://as.example/t'));
    expect(urlProblem('http://127.0.0.1:8080/token', false)).toEqual(new URL('http://127.0.0.1:8080/token'));
    expect(urlProblem('http://as.example/token', true)).toEqual(new URL('http://as.example/token'));
  });
});

describe('freshness', () => {
  const of = (headers: Record<string, string>) => freshness(new Headers(headers));
  it('reads max-age only as that directive', () => {
    expect(of({ 'cache-control': 'max-agent=5' })).toBe(3_600_000);
    expect(of({ 'cache-control': 'max-age="120"' })).toBe(120_000);
  });

  it('takes off an Age that is a positive whole number of seconds, and no other', () => {
    expect(of({ 'cache-control': 'max-age=300', age: '1' })).toBe(299_000);
    expect(of({ 'cache-control': 'max-age=300', age: '-100' })).toBe(300_000);
    expect(of({ 'cache-control': 'max-age=300', age: '1.5' })).toBe(300_000);
    expect(of({ 'cache-control': 'max-age=300', age: 'soon' })).toBe(300_000);
    expect(of({ age: '600' })).toBe(3_000_000);
  });
});

describe('unreachable', () => {
  const cause = new TypeError('fetch failed');
  it('no signal, or one not aborted: the connection failed', () => {
    const err = unreachable(url, undefined, cause) as Error;
    expect(err).toMatchObject({ code: 'ERR_DISCOVERY', message: `The connection to ${url.href} failed. Check the URL and the network.`, cause });
    expect(unreachable(url, new AbortController().signal, cause, true)).toMatchObject({
      message: `The connection to ${url.href} failed while reading its answer. Check the URL and the network.`,
      cause,
    });
  });

  it('a signal that timed out: did not answer in time, caused by the timeout', () => {
    const reason = new DOMException('The operation timed out.', 'TimeoutError');
    const signal = AbortSignal.abort(reason);
    expect(unreachable(url, signal, cause)).toMatchObject({ code: 'ERR_DISCOVERY', message: `${url.href} did not answer in time. Check the server's health.`, cause: reason });
    expect(unreachable(url, signal, cause, true)).toMatchObject({
      message: `${url.href} did not answer in time (stalled while sending its answer). Check the server's health.`,
    });
  });

  it("a signal aborted for another reason: that reason, as fetch's own", () => {
    const reason = new Error('the user left');
    expect(unreachable(url, AbortSignal.abort(reason), cause)).toBe(reason);
  });
});

describe('getDocument', () => {
  /** A fake server that answers `response`; records the init it was sent with. */
  function answering(response: Response | (() => Response)) {
    const inits: RequestInit[] = [];
    const send = (async (_input: RequestInfo | URL, init?: RequestInit) => {
      inits.push(init!);
      return typeof response === 'function' ? response() : response;
    }) as typeof fetch;
    return { send, inits };
  }
  const json = (body: string, init: ResponseInit = {}) => new Response(body, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });

  it('sends the signal it is given, and none when it has none', async () => {
    const signal = new AbortController().signal;
    const { send, inits } = answering(() => json('{}'));
    await getDocument(url, send, signal);
    await getDocument(url, send, undefined);
    expect(inits[0]).toMatchObject({ redirect: 'manual', signal });
    expect('signal' in inits[1]!).toBe(false);
  });

  it('takes a media type with spaces before its parameters, in any case', async () => {
    const { send } = answering(new Response('{"a":1}', { headers: { 'content-type': 'Application/JSON ; charset=utf-8' } }));
    expect(await getDocument(url, send, undefined)).toEqual({ json: { a: 1 }, freshFor: 3_600_000 });
  });

  it('says why there is no document', async () => {
    const opaque = { type: 'opaqueredirect', status: 0, headers: new Headers(), body: null } as unknown as Response;
    expect(await getDocument(url, answering(opaque).send, undefined)).toBe('a redirect (HTTP opaque), which is never followed');
    expect(await getDocument(url, answering(json('{}', { status: 302 })).send, undefined)).toBe('a redirect (HTTP 302), which is never followed');
    expect(await getDocument(url, answering(json('{}', { status: 299 })).send, undefined)).toBe('HTTP 299');
    expect(await getDocument(url, answering(json('{}', { status: 400 })).send, undefined)).toBe('HTTP 400');
    expect(await getDocument(url, answering(new Response(new Uint8Array([123, 125]))).send, undefined)).toBe('content-type missing, not application/json');
    expect(await getDocument(url, answering(json('null')).send, undefined)).toBe('no JSON object of at most 1 MiB');
    expect(await getDocument(url, answering(json('[{}]')).send, undefined)).toBe('no JSON object of at most 1 MiB');
  });

  it('an answer whose body cannot be cancelled is still refused by its status, quietly', async () => {
    const body = new ReadableStream({
      cancel() {
        throw new Error('cannot cancel');
      },
    });
    expect(await getDocument(url, answering(new Response(body, { status: 404 })).send, undefined)).toBe('HTTP 404');
  });

  it('an answer cut off while it is read: ERR_DISCOVERY saying so', async () => {
    const cut = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"issuer":'));
        controller.error(new TypeError('terminated'));
      },
    });
    const err = await caught(() => getDocument(url, answering(new Response(cut, { headers: { 'content-type': 'application/json' } })).send, undefined));
    expect(err).toMatchObject({ code: 'ERR_DISCOVERY', message: `The connection to ${url.href} failed while reading its answer. Check the URL and the network.` });
  });
});

describe('isStringList and checkDPoPAlgs', () => {
  it('a list of strings is an array whose every item is a string', () => {
    expect(isStringList(['a', 'b'])).toBe(true);
    expect(isStringList([])).toBe(true);
    expect(isStringList(['a', 1])).toBe(false);
    expect(isStringList('ab')).toBe(false);
    expect(isStringList({ length: 0 })).toBe(false);
  });

  it('refuses algorithms that are not a list, or a list without ES256, naming at most 10 of 20 characters each', () => {
    const who = 'The authorization server https://as.example';
    expect(() => checkDPoPAlgs({ dpop_signing_alg_values_supported: 'ES256' }, who)).toThrow(
      `${who} has a "dpop_signing_alg_values_supported" that is not a list of strings. Fix the server's metadata.`,
    );
    expect(() => checkDPoPAlgs({ dpop_signing_alg_values_supported: [] }, who)).toThrow(`${who} accepts DPoP proofs signed with none (dpop_signing_alg_values_supported)`);
    const many = Array.from({ length: 12 }, (_, i) => `RS${i}`.padEnd(30, 'x'));
    const err = (() => {
      try {
        checkDPoPAlgs({ dpop_signing_alg_values_supported: many }, who);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toContain(`signed with ${many.slice(0, 10).map((alg) => alg.slice(0, 20)).join(', ')} (dpop_signing_alg_values_supported), not ES256`);
    expect(() => checkDPoPAlgs({ dpop_signing_alg_values_supported: ['ES256'] }, who)).not.toThrow();
    expect(() => checkDPoPAlgs({}, who)).not.toThrow();
  });
});
