/**
 * One grant request at a token endpoint (RFC 6749 §3.2, RFC 9449 §5): POST a form with client
 * authentication and a DPoP proof, retry once when the server demands a nonce (400
 * `use_dpop_nonce` with a new `DPoP-Nonce`, or a proof refused for its `iat` after the clock was
 * corrected), never follow a redirect, and turn the answer into a {@link TokenSet} or a typed
 * error. A pushed authorization request (RFC 9126 §2, RFC 9449 §10.1) is the same POST with
 * another answer, so it is made here too.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
import { secretForms, type ClientAuth } from './client-auth.ts';
import { parseHttpDate } from '../clock.ts';
import { discard, learnFrom, proofFor, readJson, type TokenContext } from '../context.ts';
import { type ErrorCode, OAuthError, TokenResponseError } from '../errors.ts';
import { emit } from '../events.ts';
import { asNonceKey, nonceMissingError } from '../nonce.ts';
import { targetUri } from '../proof.ts';
import type { TokenSet } from './source.ts';

/**
 * Sends a grant's form to its token endpoint and returns the token: {@link grantRequest} with the
 * endpoint and client authentication given, or discovered (src/grants/discovered.ts).
 * `secrets` as for grantRequest.
 */
export type Send = (context: TokenContext, form: URLSearchParams, secrets?: readonly string[]) => Promise<TokenSet>;

// What to do about each OAuth error a token endpoint may send (RFC 6749 §5.2, RFC 9449 §7.1).
// No prototype: the key is server text, and `constructor` must find nothing (issue 13).
// invalid_client's advice depends on the client's authentication: ClientAuth.advice.
const ADVICE: Record<string, string | null> = {
  __proto__: null,
  invalid_scope: 'Ask only for registered scopes.',
  invalid_target: 'Check the resource option.',
  unauthorized_client: "Check the client's registered grant types.",
  unsupported_grant_type: 'Use a grant type the server supports.',
  invalid_grant: 'Start the grant again.',
  invalid_dpop_proof: 'Check the key and the system clock.',
  use_dpop_nonce: 'It demanded a new nonce again after one retry; it may rotate nonces too fast.',
};

/** Server text as it may appear in an error: at most 500 characters, every secret replaced. */
function scrub(text: unknown, secrets: readonly string[]): string | undefined {
  if (typeof text !== 'string') return undefined;
  let clean = text.slice(0, 500);
  for (const secret of secrets) if (secret) clean = clean.split(secret).join('[redacted]');
  return clean;
}

/** A TokenResponseError about `response`, which it keeps (non-enumerable). */
function responseError(code: ErrorCode, message: string, response: Response): TokenResponseError {
  return new TokenResponseError(code, message, response.status, { response });
}

/**
 * Validates a successful token response (RFC 6749 §5.1). Outcomes, decided here:
 * - not a JSON object of at most 1 MiB (HTML, truncated, an array, null, endless), or `access_token` missing or not printable
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
    responseError('ERR_TOKEN_RESPONSE', `The token endpoint's answer is unusable: ${what}. Check the tokenEndpoint option.`, response);
  if (typeof json !== 'object' || !json || Array.isArray(json)) throw fail('the body is not a JSON object of at most 1 MiB');
  const { access_token: token, token_type: given, scope, refresh_token: refreshToken } = json as Record<string, unknown>;
  let expiresIn = (json as Record<string, unknown>).expires_in;
  if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) throw fail('"access_token" is missing or not a printable string');
  const type = typeof given === 'string' ? given.toLowerCase() : undefined;
  if (type !== 'dpop' && (type !== 'bearer' || requireDPoP)) {
    // The type is shown to help, but it is server text: never let it carry the token it came with.
    throw responseError(
      'ERR_TOKEN_TYPE',
      `The token endpoint issued a token of type ${type === undefined ? 'missing' : `"${scrub(given, [token])!.slice(0, 40)}"`}; only DPoP${requireDPoP ? ' tokens can be used (requireDPoP)' : ' and Bearer tokens can be used'}. Check that the client is registered for DPoP.`,
      response,
    );
  }
  if (typeof expiresIn === 'string' && /^\d{1,12}$/.test(expiresIn)) expiresIn = +expiresIn; // a common server quirk
  if (expiresIn !== undefined && !(Number.isFinite(expiresIn) && (expiresIn as number) >= 0)) {
    throw fail('"expires_in" is not a non-negative number of seconds');
  }
  return {
    accessToken: token,
    tokenType: type === 'dpop' ? 'DPoP' : 'Bearer',
    // At most 366 days.
    expiresAt: expiresIn === undefined ? undefined : now + Math.min(expiresIn as number, 31_622_400) * 1000,
    receivedAt: now,
    scope: typeof scope === 'string' ? scope : undefined,
    refreshToken: typeof refreshToken === 'string' ? refreshToken : undefined,
  };
}

/**
 * A token request that failed below HTTP, while sending or `reading` the answer. Outcome:
 * `ERR_TOKEN_NETWORK` with the runtime's error as `cause`; when `tokenTimeout` ran out, a message
 * that says so. An abort for any other reason rejects with that reason, as `fetch` does.
 */
function networkError(signal: AbortSignal | undefined, htu: string, cause: unknown, reading?: boolean): unknown {
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  const timedOut = (reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
  if (reason !== undefined && !timedOut) return reason;
  return new TokenResponseError(
    'ERR_TOKEN_NETWORK',
    timedOut
      ? `The ${htu} did not answer in time${reading ? ' (stalled while reading its answer)' : ''}. Raise tokenTimeout or check the server's health.`
      : `The connection to the ${htu} failed${reading ? ' while reading its answer' : ''}. Check the URL and the network.`,
    0,
    { cause: timedOut ? reason : cause },
  );
}

/**
 * POSTs a grant's form to the token endpoint with client authentication and a DPoP proof, and
 * returns the token. The form and credentials are rebuilt for every attempt, so an assertion is
 * never replayed.
 *
 * Outcomes, decided here: a `use_dpop_nonce` demand is retried once, only with a nonce not yet
 * sent (a demand without a valid `DPoP-Nonce` is `ERR_NONCE_MISSING`; a second demand is the
 * `OAuthError`); any redirect is `ERR_TOKEN_REDIRECT` and never followed (the form holds
 * credentials); an OAuth error body is an `OAuthError` with server text scrubbed of secrets;
 * any other failure status (5xx, 429) is `ERR_TOKEN_RESPONSE`, not retried (the next call asks
 * again; nothing failed is cached), its `Retry-After` quoted when well-formed; no answer, a
 * dropped connection or `tokenTimeout` running out is `ERR_TOKEN_NETWORK`.
 *
 * A `private_key_jwt` assertion signed by a wrong clock is refused as `invalid_client` before
 * the server looks at the DPoP proof; that answer's `Date` corrects the clock, so the request
 * is made once more, with the same retries, and an assertion signed by the corrected clock
 * (RFC 7523 §3 `exp`/`iat`).
 *
 * @param secrets values (a refresh token, a code) to scrub from any server text that ends up in
 * an error, raw and as the form carried them: a server may echo either.
 * @param parse what a successful answer becomes (a pushed request's `request_uri`).
 * @param what the endpoint's name in messages.
 */
export async function grantRequest<T = TokenSet>(
  ctx: TokenContext,
  endpoint: URL,
  auth: ClientAuth,
  form: URLSearchParams,
  secrets: readonly string[] = [],
  parse: (json: unknown, response: Response, now: number, requireDPoP: boolean) => T = parseTokenResponse as never,
  what = 'token endpoint',
): Promise<T> {
  const { origin, href } = endpoint;
  const { clock, signal } = ctx;
  const htu = targetUri(endpoint);
  const space = asNonceKey(origin);
  // How messages name the endpoint: "token endpoint https://as.example/token".
  const named = `${what} ${htu}`;
  const hidden = [...auth.secrets, ...secrets.flatMap(secretForms)];
  // Each cause is retried once at most: a new nonce, a corrected clock. One of each can be
  // needed in a row: Glewlwyd refuses a stale iat (403) before it demands its nonce (400), so a
  // client whose clock is off first learns the time, then the nonce (issue 17).
  let nonceRetried = false;
  let clockRetried = false;
  let reauthenticated = !auth.timeBound;
  let moved = false; // the clock of the token endpoint was corrected
  for (;;) {
    const nonce = ctx.nonces.get(space);
    const body = new URLSearchParams(form);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
      accept: 'application/json',
    };
    const [proof] = await Promise.all([proofFor(ctx, origin, 'POST', htu, undefined, nonce), auth.apply(body, headers, clock.seconds(origin))]);
    headers.dpop = proof;
    // A private_key_jwt assertion is a credential for its lifetime: never shown either.
    hidden.push(...body.getAll('client_assertion'));
    const response = await ctx
      .fetch(href, { method: 'POST', headers, body: `${body}`, redirect: 'manual', signal: signal ?? null })
      .catch((err: unknown) => {
        throw networkError(signal, named, err);
      });
    const [newNonce, skewed] = learnFrom(ctx, origin, htu, response.headers, space);
    moved ||= skewed;
    const { status } = response;
    if (response.type === 'opaqueredirect' || (status > 299 && status < 400)) {
      await discard(response);
      throw responseError('ERR_TOKEN_REDIRECT', `The ${named} redirected (HTTP ${status}); credentials never follow one. Use the final URL from the server's metadata.`, response);
    }
    // At most 1 MiB: a token response is a few KB, and an endless one must not fill the
    // memory. A longer one is read as no JSON at all: ERR_TOKEN_RESPONSE (issue 13). Not JSON:
    // said below, or by parseTokenResponse.
    const json = (await readJson(response, 1 << 20).catch((err: unknown) => {
      throw networkError(signal, named, err, true);
    })) as Record<string, unknown> | undefined;
    if (response.ok) return parse(json, response, clock.now(origin), ctx.requireDPoP);
    const error = json?.error;
    // RFC 9449 §8: a nonce demand is retried once, and only with a nonce we did not send.
    if (error === 'use_dpop_nonce' && !nonceRetried) {
      if (newNonce === undefined) throw nonceMissingError(response, what);
      nonceRetried = true;
      if (newNonce !== nonce) {
        emit(ctx.onEvent, { type: 'nonce-retry', server: 'token', url: htu });
        continue;
      }
    }
    if (error === 'invalid_dpop_proof' && skewed && !clockRetried) {
      clockRetried = true;
      continue;
    }
    if (error === 'invalid_client' && !reauthenticated && moved) {
      reauthenticated = true;
      nonceRetried = clockRetried = false;
      continue;
    }
    // Retry-After (RFC 9110 §10.2.3) is echoed only when it is what the RFC allows: seconds or an HTTP-date.
    // Headers.get has already stripped the value's surrounding whitespace (fetch's "normalize").
    const after = response.headers.get('retry-after') ?? '';
    const seconds = /^\d{1,10}$/.test(after);
    const wait = seconds || parseHttpDate(after) > 0 ? ` It asks to wait ${seconds ? `${after} seconds` : `until ${after}`} (Retry-After) before retrying.` : '';
    if (typeof error !== 'string') {
      throw responseError('ERR_TOKEN_RESPONSE', `The ${named} answered HTTP ${status} without an OAuth error. Check the URL and the server's health.${wait}`, response);
    }
    const description = scrub(json!.error_description, hidden);
    // The server's time minus ours, as learnt from its Date (0 when within 5 s): what to tell
    // a user whose proofs are refused. No origin is '', so clock.now('') is the local time.
    const off = clock.now(origin) - clock.now('');
    const shown = scrub(error, hidden)!.slice(0, 100);
    throw new OAuthError(
      `The ${what} refused the request: ${shown}${description ? ` (${description})` : ''}, HTTP ${status}. ${error === 'invalid_client' ? auth.advice : error === 'invalid_dpop_proof' && off ? `Its Date is ${(off / 1000) | 0} s off: check the system clock.` : (ADVICE[error] ?? '')}${wait}`.trim(),
      { error: shown, error_description: description, error_uri: scrub(json!.error_uri, hidden), status },
      response,
    );
  }
}
