// @ts-check
/**
 * The end-to-end flow every runtime runs (Node, Chromium, Deno, workerd), written with web
 * APIs only so the same file loads everywhere. It drives a snippet's `api` against the real
 * peers (e2e/peers.mjs) and returns what the servers said; each suite asserts on the result
 * with its own test framework.
 *
 * Judges are independent of dpop-fetch: the resource server (oauth4webapi) validates every
 * token and proof and echoes the token's claims; `jose` computes the RFC 7638 thumbprint the
 * token's `cnf.jkt` must equal.
 */
import { calculateJwkThumbprint } from 'jose';

/**
 * The key's RFC 7638 thumbprint computed by jose from the exported public JWK, never by
 * dpop-fetch (which is the code under test).
 * @param {CryptoKey} publicKey
 * @returns {Promise<string>}
 */
export async function independentThumbprint(publicKey) {
  const jwk = await crypto.subtle.exportKey('jwk', publicKey);
  return calculateJwkThumbprint(jwk, 'sha256');
}

/**
 * The resource server answers `[{ type, value }]`; this makes it `{ type: value }`.
 * @param {unknown} body
 * @returns {Record<string, string>}
 */
export function claimsOf(body) {
  if (!Array.isArray(body)) throw new Error(`the resource server answered ${JSON.stringify(body)?.slice(0, 200)}, not a claim list`);
  return Object.fromEntries(body.map((/** @type {{ type: string, value: string }} */ c) => [c.type, c.value]));
}

/**
 * @typedef {object} Call
 * @property {number} status HTTP status the API answered.
 * @property {Record<string, string> | undefined} claims The token's claims as the resource
 *   server validated them (200 only).
 * @property {string | undefined} error The body of a non-200 answer, cut short.
 */

/**
 * @typedef {object} FlowResult
 * @property {Call[]} calls Every API call, in order.
 * @property {string[]} tokenIds The distinct access tokens (their `jti`) the resource server
 *   accepted, in the order it first saw them.
 * @property {string[]} jkts The distinct `cnf.jkt` values of those tokens.
 */

/**
 * Calls the API through `call` one request after another until the resource server has
 * accepted `tokens` different access tokens (so renewal happened `tokens - 1` times), or
 * until `maxCalls` calls were made, or a call fails (the result then shows it). The loop is
 * bounded by a count, not a clock: a slow machine makes more calls, never a different verdict.
 *
 * @param {() => Promise<Response>} call one API request, e.g. `() => api(peers.apiUrl)`
 * @param {{ tokens?: number, maxCalls?: number, pauseMs?: number }} [options]
 *   `tokens` default 2; `maxCalls` default 400; `pauseMs` between calls, default 100.
 * @returns {Promise<FlowResult>}
 */
export async function runFlow(call, { tokens = 2, maxCalls = 400, pauseMs = 100 } = {}) {
  /** @type {Call[]} */
  const calls = [];
  /** @type {string[]} */
  const tokenIds = [];
  /** @type {string[]} */
  const jkts = [];
  while (calls.length < maxCalls && tokenIds.length < tokens) {
    const response = await call();
    if (response.status !== 200) {
      calls.push({ status: response.status, claims: undefined, error: (await response.text()).slice(0, 500) });
      break;
    }
    const claims = claimsOf(await response.json());
    calls.push({ status: 200, claims, error: undefined });
    if (claims.jti && !tokenIds.includes(claims.jti)) tokenIds.push(claims.jti);
    const jkt = claims.cnf ? JSON.parse(claims.cnf).jkt : undefined;
    if (!jkts.includes(jkt)) jkts.push(jkt);
    if (tokenIds.length < tokens) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return { calls, tokenIds, jkts };
}

/** Options for the peers every suite starts: tokens short enough that renewal happens. */
export const FLOW_PEERS = { accessTokenTTL: 3 };

/** Seconds before expiry the flow's clients renew (with 3 s tokens: renew after about 1 s). */
export const FLOW_RENEW_BEFORE = 1;
