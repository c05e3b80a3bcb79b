/**
 * Token sources and the token cache.
 *
 * A token source knows how to get a token (the client-credentials grant here; refresh and
 * code exchange in their own files). The cache in front of it keeps the token, renews it
 * ahead of expiry, fetches it once however many requests wait (single-flight), and never
 * keeps a failure.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
import {
  assertObject,
  assertBoolean,
  invalidType,
  invalidValue,
  isLoopback,
  isObject,
  parseHttpUrl,
} from './assert.ts';
import { clientAuth, type ClientAuthOptions } from './client-auth.ts';
import { emit } from './events.ts';
import { grantRequest, type TokenContext, type TokenSet } from './token-request.ts';

/** Anything that can produce a token for createDPoPFetch. */
export interface TokenSource {
  /** Gets a new token; called by the cache only when it has none it can use. */
  getToken(context: TokenContext): Promise<TokenSet>;
}

/** Options of {@link clientCredentials}. */
export interface ClientCredentialsOptions extends ClientAuthOptions {
  /** The token endpoint: https, or http on a loopback host (or with `allowInsecureHttp`). */
  tokenEndpoint: string | URL;
  /** Space-separated scopes, or a list. */
  scope?: string | readonly string[] | undefined;
  /** RFC 8707 resource indicator(s). */
  resource?: string | readonly string[] | undefined;
  /** Extra form parameters for the token request. */
  params?: Record<string, string> | undefined;
  /** Allow an http: token endpoint on a non-loopback host. Default false. */
  allowInsecureHttp?: boolean | undefined;
}

/** Parses and checks an endpoint option (token or authorization endpoint). */
export function endpointUrl(value: unknown, path: string, allowInsecureHttp: unknown): URL {
  assertBoolean(allowInsecureHttp, 'options.allowInsecureHttp');
  const url = parseHttpUrl(value, path);
  if (url.protocol === 'http:' && !isLoopback(url) && !allowInsecureHttp) {
    throw invalidValue(path, 'must be an https: URL (http: only on a loopback host, or with allowInsecureHttp: true)');
  }
  if (url.hash) throw invalidValue(path, 'must not have a fragment');
  return url;
}

/** Checks a string-or-list option and returns its values. */
function stringList(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '')) return value as string[];
  throw invalidType(path, 'a string or an array of non-empty strings');
}

/**
 * A token source for the client-credentials grant, with DPoP.
 *
 * @param options the token endpoint and the client's credentials.
 * @example
 * const tokens = clientCredentials({ tokenEndpoint: 'https://as.example/token', clientId: 'app', clientSecret: 's3cret', scope: 'api' });
 * const api = createDPoPFetch({ keyPair, tokens });
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export function clientCredentials(options: ClientCredentialsOptions): TokenSource {
  assertObject(options, 'options');
  const endpoint = endpointUrl(options.tokenEndpoint, 'options.tokenEndpoint', options.allowInsecureHttp);
  const auth = clientAuth(options, endpoint);
  const form = requestForm(options, { grant_type: 'client_credentials' });
  return { getToken: (context) => grantRequest(context, endpoint, auth, form) };
}

/**
 * The parameters of a request to the server: extra `params` first, so they cannot override
 * `fields`, then `scope` and `resource` (RFC 8707, repeatable).
 */
export function requestForm(
  options: { scope?: unknown; resource?: unknown; params?: unknown },
  fields: Record<string, string>,
): URLSearchParams {
  const scope = stringList(options.scope, 'options.scope').join(' ');
  const resources = stringList(options.resource, 'options.resource');
  for (const resource of resources) parseHttpUrl(resource, 'options.resource');
  const { params = {} } = options;
  if (!isObject(params) || Array.isArray(params) || !Object.values(params).every((v) => typeof v === 'string')) {
    throw invalidType('options.params', 'an object of string values');
  }
  const form = new URLSearchParams(params as Record<string, string>);
  for (const name in fields) form.set(name, fields[name]!);
  if (scope) form.set('scope', scope);
  form.delete('resource');
  for (const resource of resources) form.append('resource', resource);
  return form;
}

/** The form of a grant request (RFC 6749 §4): {@link requestForm} with `grant_type`. */
export function grantForm(
  grantType: string,
  options: { scope?: unknown; resource?: unknown; params?: unknown },
  fields: Record<string, string> = {},
): URLSearchParams {
  return requestForm(options, { grant_type: grantType, ...fields });
}

/**
 * Waits for `promise`, but rejects with the signal's reason when it aborts first, and, given
 * `ms`, resolves (with undefined) once `ms` have passed. The listener and timer go when it settles.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | null | undefined, ms?: number): Promise<T> {
  let onAbort = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  // `stop` resolves only with `ms`, early and with undefined: callers that pass `ms` wait for a Promise<void>.
  const stop = new Promise<T>((resolve, reject) => {
    if (ms !== undefined) timer = setTimeout(resolve as () => void, ms);
    if (!signal) return;
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
  });
  return Promise.race([promise, stop]).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  });
}

/** A token from the cache, and whether it was fetched for this very call. */
export type CachedToken = [token: TokenSet, fresh: boolean];

/**
 * A usable token: the cached one, or a new one shared by every caller waiting now. `refused`,
 * a token the server said is invalid, is dropped first if it is still the cached one.
 */
export type TokenCache = (context: TokenContext, signal: AbortSignal | null, refused?: TokenSet) => Promise<CachedToken>;

/**
 * Keeps one source's token, renews it ahead of expiry, and fetches it once at a time.
 *
 * @param renewBefore ms before expiry to renew; default 30 s, at most a quarter of the lifetime.
 * @param timeout ms a token request may take before it is abandoned.
 */
export function createTokenCache(source: TokenSource, renewBefore: number | undefined, timeout: number): TokenCache {
  let current: TokenSet | undefined;
  let inflight: Promise<TokenSet> | undefined;
  let count = 0;
  // `expires_in` counts from when the server issued the token, in whole seconds, and the
  // answer spent time in flight: the real expiry can be up to a second before ours.
  const usable = ({ expiresAt, receivedAt }: TokenSet, now: number) =>
    expiresAt === undefined || now < expiresAt - 1000 - (renewBefore ?? Math.min(30_000, (expiresAt - receivedAt) / 4));
  return async (context, signal, refused) => {
    if (current === refused) current = undefined;
    if (current && usable(current, context.clock.now())) return [current, false];
    if (!inflight) {
      // The shared request is not tied to one caller's signal: others may still want it.
      const request = (inflight = source
        .getToken({ ...context, signal: AbortSignal.timeout(timeout) })
        .then((token) => {
          emit(context.onEvent, {
            type: 'token',
            tokenType: token.tokenType,
            expiresIn: token.expiresAt === undefined ? undefined : Math.round((token.expiresAt - token.receivedAt) / 1000),
            renewal: count++ > 0,
            scope: token.scope,
          });
          if (usable(token, context.clock.now())) current = token;
          return token;
        })
        .finally(() => {
          if (inflight === request) inflight = undefined;
        }));
      request.catch(() => {}); // a request nobody waits for any more must not be unhandled
    }
    return [await raceAbort(inflight, signal), true];
  };
}
