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
import { clientAuth, secretForms, type ClientAuth, type ClientAuthOptions } from './client-auth.ts';
import { OAuthError } from './errors.ts';
import { emit } from './events.ts';
import { requestToken, type TokenContext, type TokenSet } from './token-request.ts';

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
  if (url.protocol === 'http:' && !isLoopback(url) && allowInsecureHttp !== true) {
    throw invalidValue(path, 'must be an https: URL (http: only on a loopback host, or with allowInsecureHttp: true)');
  }
  if (url.hash) throw invalidValue(path, 'must not have a fragment');
  return url;
}

/** Checks a string-or-list option and returns its values. */
export function stringList(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '')) return value as string[];
  throw invalidType(path, 'a string or an array of non-empty strings');
}

/** Checks `params` (extra form fields). */
export function extraParams(value: unknown, path: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value) || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw invalidType(path, 'an object of string values');
  }
  return value as Record<string, string>;
}

/**
 * One grant request: the form plus client authentication, rebuilt for every attempt so an
 * assertion is never replayed, sent with a DPoP proof through {@link requestToken}. `secrets`
 * (a refresh token, a code) are scrubbed from any server text that ends up in an error.
 *
 * A `private_key_jwt` assertion signed by a wrong clock is refused as `invalid_client` before
 * the server looks at the DPoP proof; that answer's `Date` corrects the clock, so the request
 * is made once more with an assertion signed by the corrected clock (RFC 7523 §3 `exp`/`iat`).
 */
export async function grantRequest(context: TokenContext, endpoint: URL, auth: ClientAuth, form: URLSearchParams, secrets: readonly string[] = []): Promise<TokenSet> {
  // Raw and as the form carried them: a server may echo either.
  const hidden = [...auth.secrets, ...secrets.flatMap(secretForms)];
  const send = () =>
    requestToken(
      context,
      endpoint,
      async () => {
        const body = new URLSearchParams(form);
        const headers: Record<string, string> = {};
        await auth.apply(body, headers, context.clock.seconds());
        return { body, headers };
      },
      hidden,
    );
  if (!auth.timeBound) return send();
  const offset = context.clock.offset;
  try {
    return await send();
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'invalid_client' && context.clock.offset !== offset) return send();
    throw err;
  }
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
  const form = grantForm('client_credentials', options);
  return {
    getToken: (context) => grantRequest(context, endpoint, auth, form),
  };
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
  const form = new URLSearchParams(extraParams(options.params, 'options.params'));
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
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

/** Rejects with the signal's reason when it aborts first. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => (signal.removeEventListener('abort', onAbort), resolve(value)),
      (error) => (signal.removeEventListener('abort', onAbort), reject(error)),
    );
  });
}

/** A token from the cache, and whether it was fetched for this very call. */
export interface CachedToken {
  token: TokenSet;
  fresh: boolean;
}

const EXP_GRANULARITY_MS = 1000;

/** Keeps one source's token, renews it ahead of expiry, and fetches it once at a time. */
export class TokenCache {
  #current: TokenSet | undefined;
  #inflight: Promise<TokenSet> | undefined;
  #count = 0;
  readonly #source: TokenSource;
  readonly #renewBefore: number | undefined;
  readonly #timeout: number;

  /**
   * @param renewBefore ms before expiry to renew; default 30 s, at most a quarter of the lifetime.
   * @param timeout ms a token request may take before it is abandoned.
   */
  constructor(source: TokenSource, renewBefore: number | undefined, timeout: number) {
    this.#source = source;
    this.#renewBefore = renewBefore;
    this.#timeout = timeout;
  }

  #usable(token: TokenSet, now: number): boolean {
    if (token.expiresAt === undefined) return true;
    const margin = this.#renewBefore ?? Math.min(30_000, (token.expiresAt - token.receivedAt) / 4);
    // `expires_in` counts from when the server issued the token, in whole seconds, and the
    // answer spent time in flight: the real expiry can be up to a second before ours.
    return now < token.expiresAt - EXP_GRANULARITY_MS - margin;
  }

  /** A usable token: the cached one, or a new one shared by every caller waiting now. */
  async get(context: TokenContext, signal?: AbortSignal | null): Promise<CachedToken> {
    const current = this.#current;
    if (current && this.#usable(current, context.clock.now())) return { token: current, fresh: false };
    if (!this.#inflight) {
      // The shared request is not tied to one caller's signal: others may still want it.
      const inflight = this.#source
        .getToken({ ...context, signal: AbortSignal.timeout(this.#timeout) })
        .then((token) => {
          emit(context.onEvent, {
            type: 'token',
            tokenType: token.tokenType,
            expiresIn: token.expiresAt === undefined ? undefined : Math.round((token.expiresAt - token.receivedAt) / 1000),
            renewal: this.#count++ > 0,
            scope: token.scope,
          });
          if (this.#usable(token, context.clock.now())) this.#current = token;
          return token;
        })
        .finally(() => {
          if (this.#inflight === inflight) this.#inflight = undefined;
        });
      inflight.catch(() => {}); // a request nobody waits for any more must not be unhandled
      this.#inflight = inflight;
    }
    return { token: await raceAbort(this.#inflight, signal), fresh: true };
  }

  /** Drops `token` if it is still the cached one (the server said it is invalid). */
  invalidate(token: TokenSet): void {
    if (this.#current === token) this.#current = undefined;
  }
}
