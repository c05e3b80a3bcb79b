// The same flows against every authorization server family (test/interop/*.peers.test.ts):
// a token source, createDPoPFetch in front of the oauth4webapi resource server, and what
// went over the wire as the client saw it. The README's interop table is generated from
// these suites' results (e2e/interop-table.mjs).
import * as jose from 'jose';
import { createDPoPFetch, generateKeyPair, type DPoPEvent, type TokenSource } from '../../src/index.ts';

/** One exchange as the client saw it: the OAuth `error` and `token_type` of JSON answers. */
export interface Hop {
  method: string;
  url: string;
  status: number;
  error?: string;
  tokenType?: string;
  /** The DPoP-Nonce of the answer, if any. */
  nonce?: string;
}

/** A fetch that records every exchange; the caller's own fetch does the work. */
export function wire(): { fetch: typeof fetch; hops: Hop[] } {
  const hops: Hop[] = [];
  return {
    hops,
    async fetch(input, init) {
      const request = new Request(input, init);
      const response = await fetch(request);
      const hop: Hop = { method: request.method, url: request.url.split('?')[0]!, status: response.status };
      const nonce = response.headers.get('dpop-nonce');
      if (nonce) hop.nonce = nonce;
      if (response.headers.get('content-type')?.includes('json')) {
        const body = (await response.clone().json().catch(() => undefined)) as Record<string, unknown> | undefined;
        if (typeof body?.error === 'string') hop.error = body.error;
        if (typeof body?.token_type === 'string') hop.tokenType = body.token_type;
      }
      hops.push(hop);
      return response;
    },
  };
}

/** The resource server's answer, `[{ type, value }]`, as an object. */
export function claimsOf(body: Array<{ type: string; value: string }>): Record<string, string> {
  return Object.fromEntries(body.map((c) => [c.type, c.value]));
}

/** The RFC 7638 thumbprint of a key pair's public key, computed by jose (not by us). */
export async function joseThumbprint(keyPair: CryptoKeyPair): Promise<string> {
  return jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK);
}

export interface FlowResult {
  status: number;
  claims: Record<string, string>;
  /** Every exchange of the first call (token requests and the API). */
  first: Hop[];
  /** Every exchange of a second call with the same fetch. */
  second: Hop[];
  events: DPoPEvent[];
  keyPair: CryptoKeyPair;
  /** jose's thumbprint of the key: what `cnf.jkt` must be. */
  jkt: string;
}

/**
 * Calls the API twice through createDPoPFetch (requireDPoP) with the token source `tokensFor`
 * makes for the key; returns the first answer's claims and the wire.
 */
export async function callTwice(apiUrl: string, tokensFor: (keyPair: CryptoKeyPair) => TokenSource | Promise<TokenSource>, keyPair?: CryptoKeyPair): Promise<FlowResult> {
  const key = keyPair ?? (await generateKeyPair());
  const { fetch, hops } = wire();
  const events: DPoPEvent[] = [];
  const api = createDPoPFetch({ keyPair: key, fetch, requireDPoP: true, tokens: await tokensFor(key), onEvent: (e) => void events.push(e) });
  const response = await api(apiUrl);
  const body = await response.json();
  const first = hops.splice(0);
  const again = await api(apiUrl);
  await again.body?.cancel();
  return { status: response.status, claims: response.status === 200 ? claimsOf(body) : body, first, second: hops.splice(0), events, keyPair: key, jkt: await joseThumbprint(key) };
}

/** The hops to one URL as `[status, error or token_type]` pairs, for compact assertions. */
export function statuses(hops: Hop[], url: string): Array<[number, string | undefined]> {
  return hops.filter((h) => h.url === url).map((h) => [h.status, h.error ?? h.tokenType]);
}
