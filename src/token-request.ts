/**
 * One exchange with a token endpoint (RFC 6749 §3.2, RFC 9449 §5): POST a form with a DPoP
 * proof, retry once when the server demands a nonce (400 `use_dpop_nonce` with a new
 * `DPoP-Nonce`, or a proof refused for its `iat` after the clock was corrected), never
 * follow a redirect, and turn the answer into a {@link TokenSet} or a typed error.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
import type { Clock } from './clock.ts';
import { ErrorCode, OAuthError, TokenResponseError } from './errors.ts';
import { emit, emitProof, type EventListener } from './events.ts';
import { nonceMissingError, type NonceCache } from './nonce.ts';
import { signProof, targetUri } from './proof.ts';

/** A token as the client keeps it. */
export interface TokenSet {
  accessToken: string;
  /** `DPoP` or `Bearer`, normalised from the server's case-insensitive `token_type`. */
  tokenType: 'DPoP' | 'Bearer';
  /** When it expires, in ms since the epoch (server clock); undefined when the server did not say. */
  expiresAt: number | undefined;
  /** When it was received, in ms since the epoch (server clock). */
  receivedAt: number;
  scope?: string | undefined;
  refreshToken?: string | undefined;
}

/** What a token source gets from createDPoPFetch to do its work. */
export interface TokenContext {
  keyPair: CryptoKeyPair;
  fetch: typeof fetch;
  nonces: NonceCache;
  clock: Clock;
  requireDPoP: boolean;
  signal?: AbortSignal | undefined;
  onEvent?: EventListener | undefined;
  /** Report every proof through onEvent (createDPoPFetch's `debug`). */
  debug?: boolean | undefined;
}

/** The form and headers of one attempt; built per attempt so assertions are never replayed. */
export type BuildRequest = () => Promise<{ body: URLSearchParams; headers: Record<string, string> }>;

const ADVICE: Record<string, string> = {
  invalid_client: 'Check clientId, clientSecret and authMethod against the client registration.',
  invalid_scope: 'Ask only for scopes the client is registered for.',
  invalid_target: 'Check the resource option: the server does not know that resource.',
  unauthorized_client: 'The client is not allowed this grant type; check its registration.',
  unsupported_grant_type: 'The server does not support this grant type.',
  invalid_grant: 'The code or refresh token is invalid, expired or already used: start the grant again.',
  invalid_dpop_proof: 'The server refused the DPoP proof: check the key and the system clock.',
  use_dpop_nonce: 'The server demanded a new nonce again after one retry; it may rotate nonces too fast.',
};
const ACCESS_TOKEN = /^[\x21-\x7e]+$/;
const MAX_LIFETIME_S = 366 * 24 * 3600;

/** Removes secrets from text a server sent back, in case it echoes them. */
function scrub(text: string | undefined, secrets: readonly string[]): string | undefined {
  if (text === undefined) return undefined;
  let clean = text.slice(0, 500);
  for (const secret of secrets) if (secret) clean = clean.split(secret).join('[redacted]');
  return clean;
}

/**
 * Validates a successful token response (RFC 6749 §5.1). Outcomes, decided here:
 * - not a JSON object (HTML, truncated, an array, null), or `access_token` missing or not printable
 *   ASCII (so never a header injection) → `ERR_TOKEN_RESPONSE`;
 * - `token_type` other than DPoP/Bearer (any case), or missing → `ERR_TOKEN_TYPE`; Bearer with
 *   `requireDPoP` → `ERR_TOKEN_TYPE`;
 * - `expires_in`: digits in a string are read as a number (a common server quirk); negative, a
 *   word, or Infinity → `ERR_TOKEN_RESPONSE`; more than 366 days → capped at 366 days; missing →
 *   no known expiry (the token is kept until a resource refuses it); 0 → serves the request it
 *   was fetched for and is not cached.
 */
export function parseTokenResponse(json: unknown, response: Response, now: number, requireDPoP: boolean): TokenSet {
  const fail = (what: string) =>
    new TokenResponseError(ErrorCode.TOKEN_RESPONSE, `The token endpoint's answer is unusable: ${what}. Check that tokenEndpoint is the server's token endpoint.`, response.status, { response });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('the body is not a JSON object');
  const body = json as Record<string, unknown>;
  if (typeof body.access_token !== 'string' || !ACCESS_TOKEN.test(body.access_token)) throw fail('"access_token" is missing or not a printable string');
  const type = typeof body.token_type === 'string' ? body.token_type.toLowerCase() : undefined;
  if (type !== 'dpop' && type !== 'bearer') {
    // Shown to help, but it is server text: never let it carry the token it came with.
    const shown = typeof body.token_type === 'string' ? `"${scrub(body.token_type, [body.access_token])!.slice(0, 40)}"` : 'missing';
    throw new TokenResponseError(ErrorCode.TOKEN_TYPE, `The token endpoint issued a token of type ${shown}; only DPoP and Bearer tokens can be used.`, response.status, { response });
  }
  if (type === 'bearer' && requireDPoP) {
    throw new TokenResponseError(ErrorCode.TOKEN_TYPE, 'The token endpoint issued a Bearer token, not a DPoP-bound one, and requireDPoP is set. Check that the client is registered for DPoP at the server.', response.status, { response });
  }
  let expiresIn = body.expires_in;
  if (typeof expiresIn === 'string' && /^\d{1,12}$/.test(expiresIn)) expiresIn = Number(expiresIn); // a common server quirk
  if (expiresIn !== undefined && (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0)) {
    throw fail('"expires_in" is not a non-negative number of seconds');
  }
  return {
    accessToken: body.access_token,
    tokenType: type === 'dpop' ? 'DPoP' : 'Bearer',
    expiresAt: expiresIn === undefined ? undefined : now + Math.min(expiresIn, MAX_LIFETIME_S) * 1000,
    receivedAt: now,
    scope: typeof body.scope === 'string' ? body.scope : undefined,
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
  };
}

/**
 * The body as JSON, `undefined` when it is not JSON (the callers say why that is unusable).
 * A body that cannot be read at all (the connection dropped mid-answer, or tokenTimeout ran
 * out) is a network failure, not a malformed answer: it throws.
 */
async function readJson(response: Response, ctx: TokenContext, htu: string): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    throw networkError(ctx, htu, err, 'while reading its answer');
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A token request that failed below HTTP. Outcome: `ERR_TOKEN_NETWORK` with the runtime's error
 * as `cause`; when `tokenTimeout` ran out, a message that says so. An abort for any other reason
 * rejects with that reason, as `fetch` does.
 */
function networkError(ctx: TokenContext, htu: string, cause: unknown, when = ''): unknown {
  const reason: unknown = ctx.signal?.aborted ? ctx.signal.reason : undefined;
  const timedOut = (reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
  if (reason !== undefined && !timedOut) return reason;
  const what = timedOut
    ? `The token endpoint ${htu} did not answer in time${when ? ` (${when.replace('while ', 'stalled while ')})` : ''}. Raise tokenTimeout or check the server's health.`
    : `The connection to the token endpoint ${htu} failed${when ? ` ${when}` : ''}. Check the URL and the network.`;
  return new TokenResponseError(ErrorCode.TOKEN_NETWORK, what, 0, { cause: timedOut ? reason : cause });
}

// Retry-After (RFC 9110 §10.2.3) is echoed only when it is what the RFC allows: seconds or a date.
function retryAfter(response: Response): string {
  const value = response.headers.get('retry-after')?.trim();
  if (!value) return '';
  if (/^\d{1,10}$/.test(value)) return ` It asks to wait ${value} seconds (Retry-After) before the next token request.`;
  return Number.isNaN(Date.parse(value)) || value.length > 40 ? '' : ` It asks to wait until ${value} (Retry-After) before the next token request.`;
}

/**
 * POSTs to the token endpoint with a DPoP proof and returns the token.
 *
 * Outcomes, decided here: a `use_dpop_nonce` demand is retried once, only with a nonce not yet
 * sent (a demand without a valid `DPoP-Nonce` is `ERR_NONCE_MISSING`; a second demand is the
 * `OAuthError`); any redirect is `ERR_TOKEN_REDIRECT` and never followed (the form holds
 * credentials); an OAuth error body is an `OAuthError` with server text scrubbed of secrets;
 * any other failure status (5xx, 429) is `ERR_TOKEN_RESPONSE`, not retried (the next call asks
 * again; nothing failed is cached), its `Retry-After` quoted when well-formed; no answer, a
 * dropped connection or `tokenTimeout` running out is `ERR_TOKEN_NETWORK`.
 *
 * @param secrets values to scrub from any server text that ends up in an error.
 */
export async function requestToken(
  ctx: TokenContext,
  endpoint: URL,
  build: BuildRequest,
  secrets: readonly string[] = [],
): Promise<TokenSet> {
  const htu = targetUri(endpoint);
  const origin = endpoint.origin;
  for (let attempt = 1; ; attempt++) {
    const nonce = ctx.nonces.get(origin);
    const [proof, { body, headers }] = await Promise.all([
      signProof(ctx.keyPair, 'POST', htu, undefined, nonce, ctx.clock.seconds()),
      build(),
    ]);
    if (ctx.debug) emitProof(ctx.onEvent, proof);
    let response: Response;
    try {
      response = await ctx.fetch(endpoint.href, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', accept: 'application/json', dpop: proof },
        body: body.toString(),
        redirect: 'manual',
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } catch (err) {
      throw networkError(ctx, htu, err);
    }
    const newNonce = ctx.nonces.learn(origin, response.headers);
    const skewed = ctx.clock.learn(response.headers);
    if (skewed) emit(ctx.onEvent, { type: 'clock-skew', offset: ctx.clock.offset, url: htu });
    if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
      await response.body?.cancel().catch(() => {});
      throw new TokenResponseError(ErrorCode.TOKEN_REDIRECT, `The token endpoint ${htu} answered with a redirect (HTTP ${response.status}); credentials are never sent after a redirect. Use the final token endpoint URL from the server's metadata.`, response.status, { response });
    }
    const json = await readJson(response, ctx, htu);
    const error = typeof (json as { error?: unknown })?.error === 'string' ? (json as { error: string }).error : undefined;
    if (!response.ok && attempt === 1) {
      // RFC 9449 §8: a nonce demand is retried once, and only with a nonce we did not send.
      if (error === 'use_dpop_nonce') {
        if (newNonce === undefined) throw nonceMissingError(response, 'token endpoint');
        if (newNonce !== nonce) {
          emit(ctx.onEvent, { type: 'nonce-retry', server: 'token', url: htu });
          continue;
        }
      }
      if (error === 'invalid_dpop_proof' && skewed) continue;
    }
    if (!response.ok) {
      if (error === undefined) {
        throw new TokenResponseError(ErrorCode.TOKEN_RESPONSE, `The token endpoint ${htu} answered HTTP ${response.status} without an OAuth error. Check the URL and the server's health.${retryAfter(response)}`, response.status, { response });
      }
      const fields = json as Record<string, unknown>;
      const description = typeof fields.error_description === 'string' ? scrub(fields.error_description, secrets) : undefined;
      const shownError = scrub(error, secrets)!.slice(0, 100);
      const uri = typeof fields.error_uri === 'string' ? scrub(fields.error_uri, secrets) : undefined;
      throw new OAuthError(
        `The token endpoint refused the request: ${shownError}${description ? ` (${description})` : ''}, HTTP ${response.status}. ${ADVICE[error] ?? ''}${retryAfter(response)}`.trim(),
        { error: shownError, error_description: description, error_uri: uri, status: response.status },
        response,
      );
    }
    return parseTokenResponse(json, response, ctx.clock.now(), ctx.requireDPoP);
  }
}
