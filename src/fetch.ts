/**
 * createDPoPFetch: a function with `fetch`'s signature that does everything DPoP needs.
 *
 * One request flows one way: allow-list → token (cached, single-flight) → proof (fresh jti,
 * `ath`, the origin's nonce) → send → learn `DPoP-Nonce` and the clock → at most one retry per
 * cause (a new nonce demanded, a cached token refused, a proof refused for a wrong clock).
 * Redirects are followed here, each hop with its own proof (src/redirect.ts says why, and
 * builds each next request; it loads on the first redirect followed).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
import { raceAbort } from './abort.ts';
import { assertBoolean, assertFunction, assertNumber, assertObject, assertSigningKeyPair, invalidType, isObject, parseHttpUrl, tagOf } from './assert.ts';
import { createClock } from './clock.ts';
import { discard, learnFrom, proofFor, readJson, type TokenContext } from './context.ts';
import { DPoPError } from './errors.ts';
import { emit, type EventListener } from './events.ts';
import type { TokenSet, TokenSource } from './grants/source.ts';
import { createNonceCache, nonceMissingError } from './nonce.ts';
import { targetUri } from './proof.ts';
import type { DPoPStore } from './store/dpop-store.ts';
import { createTokenCache, type TokenCache } from './token-cache.ts';
import { challengeError } from './www-authenticate.ts';

/** Options of {@link createDPoPFetch}. */
export interface DPoPFetchOptions {
  /** The ECDSA P-256 key pair proofs are signed with and tokens are bound to. */
  keyPair: CryptoKeyPair;
  /** Where tokens come from, e.g. clientCredentials(...). Without it, requests that carry `Authorization: DPoP <token>` get a matching proof. */
  tokens?: TokenSource | undefined;
  /** The fetch to send with. Default: the global fetch at call time. */
  fetch?: typeof fetch | undefined;
  /** Origins that may receive the token and proofs; others get a plain fetch. Default: every origin. */
  allowedOrigins?: ReadonlyArray<string | URL> | undefined;
  /** Refuse Bearer tokens: only DPoP-bound tokens are used. Default false. */
  requireDPoP?: boolean | undefined;
  /** Seconds before expiry to renew the token. Default 30, at most a quarter of its lifetime. */
  renewBefore?: number | undefined;
  /** Seconds a token request may take. Default 30. */
  tokenTimeout?: number | undefined;
  /** How many origins' nonces to keep. Default 1000. */
  maxNonces?: number | undefined;
  /** Milliseconds concurrent first requests to an origin wait for the first to learn its nonce. Default 3000. */
  nonceWait?: number | undefined;
  /** Called for tokens, nonce retries, rejected tokens, clock corrections (and proofs with `debug`). */
  onEvent?: EventListener | undefined;
  /** Also report every proof (decoded, without signature) through onEvent. */
  debug?: boolean | undefined;
  /** The local clock in ms since the epoch (for tests). Default Date.now. */
  now?: (() => number) | undefined;
  /** A store every instance of a fleet shares (`dpop-fetch/store`): one token, its lock, the nonces. Never fails a request. */
  store?: DPoPStore | undefined;
}

/** The function createDPoPFetch returns: `fetch`'s exact signature. */
export type DPoPFetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

const SCHEME = /^(DPoP|Bearer)[ \t]+([\x21-\x7e]+)$/i;
const NEW_NONCE = 'new nonce';
const CLOCK = 'clock corrected';
/** At most this many redirects per request, as `fetch` allows (Fetch §4.4 step 5). */
const MAX_REDIRECTS = 20;

/** Whether a response is a redirect that `redirect: 'follow'` would follow. */
function isRedirect(response: Response): boolean {
  return response.type === 'opaqueredirect' || ([301, 302, 303, 307, 308].includes(response.status) && response.headers.has('location'));
}

/** A body that can be read only once: a stream or an async iterable the caller passed. */
function isOneShot(body: unknown): boolean {
  return tagOf(body) === 'ReadableStream' || (isObject(body) && Symbol.asyncIterator in body);
}

function checkOptions(options: DPoPFetchOptions): Set<string> | undefined {
  assertObject(options, 'options');
  assertSigningKeyPair(options.keyPair, 'options.keyPair');
  if (options.tokens !== undefined && (!isObject(options.tokens) || typeof options.tokens.getToken !== 'function')) {
    throw invalidType('options.tokens', 'a token source such as clientCredentials(...)');
  }
  assertFunction(options.fetch, 'options.fetch');
  if (options.allowedOrigins !== undefined && !Array.isArray(options.allowedOrigins)) throw invalidType('options.allowedOrigins', 'an array of origins');
  assertBoolean(options.requireDPoP, 'options.requireDPoP');
  assertNumber(options.renewBefore, 'options.renewBefore', { min: 0, max: 86_400 });
  assertNumber(options.tokenTimeout, 'options.tokenTimeout', { min: 0.001, max: 3_600 });
  assertNumber(options.maxNonces, 'options.maxNonces', { min: 1, max: 1_000_000, integer: true });
  assertNumber(options.nonceWait, 'options.nonceWait', { min: 0, max: 60_000 });
  assertFunction(options.onEvent, 'options.onEvent');
  assertBoolean(options.debug, 'options.debug');
  assertFunction(options.now, 'options.now');
  const { store } = options; // duck-typed; `?? isObject` stands in for a lock left out
  if (store !== undefined && ![store?.get, store?.set, store?.delete, store?.lock ?? isObject].every((f) => typeof f == 'function')) throw invalidType('options.store', 'a DPoPStore');
  return options.allowedOrigins && new Set(options.allowedOrigins.map((o, i) => parseHttpUrl(o, `options.allowedOrigins[${i}]`).origin));
}

/**
 * Creates a `fetch` that adds DPoP proofs, gets and renews tokens, and answers nonce demands.
 *
 * Redirects are followed by the returned function itself, each URL with its own proof; the
 * token goes only to the first URL's origin and to `allowedOrigins` (see below).
 *
 * @param options the key pair, the token source and how to behave.
 * @returns a function with `fetch`'s signature that resolves to the server's `Response`.
 * @example
 * const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: clientCredentials({ tokenEndpoint, clientId, clientSecret }) });
 * const res = await api('https://api.example/things', { method: 'POST', body: JSON.stringify(thing) });
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
export function createDPoPFetch(options: DPoPFetchOptions): DPoPFetch {
  const allowed = checkOptions(options);
  const { keyPair, onEvent, debug, tokens, renewBefore = 30, nonceWait = 3000 } = options;
  const send: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const nonces = createNonceCache(options.maxNonces);
  const clock = createClock(options.now);
  // With a store, what a fleet shares (src/sharing/) loads on its own, as most users have no
  // fleet: it wraps the nonce cache and makes the token cache, which requests wait for once.
  let cache: TokenCache | Promise<TokenCache | undefined> | undefined = options.store
    ? import('./sharing/share.ts').then((m) => m.share(context, options))
    : tokens && createTokenCache(tokens, renewBefore * 1000, (options.tokenTimeout ?? 30) * 1000);
  const context: TokenContext = { keyPair, fetch: send, nonces, clock, requireDPoP: !!options.requireDPoP, onEvent, debug };

  /**
   * One URL: token → proof → send → learn the nonce → at most one retry per cause.
   *
   * Outcomes: a network failure rejects as `fetch` does (a `TypeError`, never retried, since the
   * request may have reached the server); a `use_dpop_nonce` demand is retried once and only with
   * a nonce not sent yet, so a server that changes its nonce on every answer gets two requests
   * and its `401` is returned; a demand without a readable `DPoP-Nonce` is `ERR_NONCE_MISSING`;
   * `invalid_token` renews a cached token once but not a fresh one (the `401` is returned); any
   * other status (`429`, `5xx`, …) is returned as is, `Retry-After` left to the caller.
   */
  async function exchange(request: Request, url: URL, replayable: boolean): Promise<Response> {
    const { origin } = url;
    const htu = targetUri(url);
    const { signal } = request;
    let held: TokenSet | undefined;
    let fresh = false;
    if (cache instanceof Promise) cache = await cache;
    if (cache) [held, fresh] = await cache(context, signal, htu);
    // Without a token source, a token the caller put in Authorization gets a proof bound to it.
    const match = cache ? null : SCHEME.exec(request.headers.get('authorization') ?? '');
    let bearer = match?.[1]!.toLowerCase() === 'bearer';
    let token = match?.[2];
    // The causes already retried, each once at most; made only when a retry happens, so the
    // common request allocates nothing for it.
    let retried: Set<string> | undefined;
    for (;;) {
      if (held) {
        bearer = held.tokenType === 'Bearer';
        token = held.accessToken;
      }
      const first = nonces.firstContact(origin);
      let response: Response;
      let nonce: string | undefined;
      // `done` must run whatever happens, or every later request to this origin would wait
      // nonceWait for a first answer that never comes.
      try {
        if (first instanceof Promise) await raceAbort(first, signal, nonceWait);
        nonce = nonces.get(origin);
        // A Bearer token is sent as a bearer client would send it: with no proof. Signing starts
        // first so that WebCrypto works while the request is copied.
        const signing = bearer ? undefined : proofFor(context, origin, request.method, htu, token, nonce);
        const attempt = request.body !== null && replayable ? request.clone() : request;
        if (held) attempt.headers.set('authorization', `${held.tokenType} ${token}`);
        if (signing) attempt.headers.set('dpop', await signing);
        response = await send(attempt);
      } finally {
        if (typeof first === 'function') first();
      }
      const [newNonce, skewed] = learnFrom(context, origin, htu, response.headers);

      // Why the request is sent again, in the words of the error when it cannot be.
      let retry: string | undefined;
      const { status } = response;
      if (status === 401 || status === 400 || status === 403) {
        // Real servers put the challenge on a 400 (Quarkus) or a 403 as well as on the 401 of
        // RFC 9449 §7.1, and some challenge a DPoP request with Bearer only (issue 17).
        const header = response.headers.get('www-authenticate');
        let error = challengeError(header, 'dpop') ?? challengeError(header, 'bearer');
        if (!error && status === 400 && newNonce !== undefined && newNonce !== nonce && /json/i.test(response.headers.get('content-type')!)) {
          // A server answering like a token endpoint (RFC 9449 §8), e.g. one called through this
          // fetch directly. Its body is read only when declared JSON, and at most 4 KB of it for
          // at most a second: a slow or endless body must not hold the answer (issue 13).
          error = ((await raceAbort(readJson(response.clone(), 4096), null, 1000).catch(() => {})) as { error?: string } | undefined)?.error;
        }
        if (error === 'use_dpop_nonce' && !retried?.has(NEW_NONCE)) {
          if (newNonce === undefined) throw nonceMissingError(response, `resource server at ${origin}`);
          if (newNonce !== nonce) retry = NEW_NONCE;
        }
        if (error === 'invalid_token' && held && !fresh) retry = 'token refused';
        if (error === 'invalid_dpop_proof' && skewed) retry = CLOCK;
      }
      if (!retry || retried?.has(retry)) return response;
      (retried ??= new Set()).add(retry);
      if (!replayable) {
        throw new DPoPError(
          'ERR_BODY_NOT_REPLAYABLE',
          `The server at ${origin} asked for the request again (${retry}), but the body is a one-shot stream, already sent. Send it again, or pass a string, Blob, ArrayBuffer or FormData body.`,
          { response },
        );
      }
      await discard(response);
      if (retry === NEW_NONCE) {
        emit(onEvent, { type: 'nonce-retry', server: 'resource', url: htu });
      } else if (retry !== CLOCK) {
        emit(onEvent, { type: 'token-rejected', url: htu });
        [held, fresh] = await cache!(context, signal, htu, held);
      }
    }
  }

  /**
   * Redirects (caller's `redirect: 'follow'`, the default) are followed here, not by `fetch`:
   * each request goes out with `redirect: 'manual'`, and every next URL gets a fresh proof for
   * that URL, as a proof must match the URL it is sent to (RFC 9449 §4.3). The token and proof
   * go on only to the first request's origin and to `allowedOrigins`; any other origin gets the
   * request without `Authorization`, `DPoP` or `Cookie` (as `fetch` strips `Authorization` on a
   * cross-origin redirect). Redirects are followed up to 20 times, like `fetch`; one more, or a
   * `Location` that is not http(s), is `ERR_REDIRECT`. Where the runtime hides redirects
   * (a browser's opaque redirect), none can be followed with a valid proof: `ERR_REDIRECT`.
   * `redirect: 'manual'` and `'error'` are passed to `fetch` unchanged.
   */
  return async (input, init) => {
    // One Request, built with redirect 'manual' when we follow redirects ourselves: copying a
    // Request costs more than building it (npm run bench).
    const follow = (init?.redirect ?? (tagOf(input) === 'Request' ? (input as Request).redirect : 'follow')) === 'follow';
    const original = new Request(input, follow ? { ...init, redirect: 'manual' } : init);
    let url = new URL(original.url);
    const start = url.origin;
    if (allowed && !allowed.has(start)) return send(follow ? new Request(original, { redirect: 'follow' }) : original);
    const replayable = original.body === null || !isOneShot(init?.body);
    if (!follow) return exchange(original, url, replayable);

    let request = original;
    for (let redirects = 0; ; redirects++) {
      const { origin } = url;
      const response = origin === start || allowed?.has(origin) ? await exchange(request, url, replayable) : await send(request);
      if (!isRedirect(response)) {
        if (redirects) Object.defineProperty(response, 'redirected', { value: true });
        return response;
      }
      if (response.type === 'opaqueredirect') {
        throw new DPoPError('ERR_REDIRECT', `The server at ${origin} redirected, but this runtime hides where to (an opaque redirect), so no proof can be made. Request the final URL, or pass redirect: 'manual'.`, { response });
      }
      if (redirects === MAX_REDIRECTS) {
        await discard(response);
        throw new DPoPError('ERR_REDIRECT', `The request to ${targetUri(new URL(original.url))} was redirected more than ${MAX_REDIRECTS} times (last by ${origin}). Check the URL and the server's redirects.`, { response });
      }
      // What makes the next request loads on the first redirect followed: no browser needs it
      // (its redirects are opaque, above), nor an API that never redirects.
      const next = await (await import('./redirect.ts')).redirectedRequest(request, response, replayable, DPoPError);
      await discard(response);
      request = next;
      url = new URL(next.url);
    }
  };
}
