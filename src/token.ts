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
  assertOptionalString,
  assertString,
  assertBoolean,
  invalidType,
  invalidValue,
  isLoopback,
  isObject,
  parseHttpUrl,
} from './assert.ts';
import { clientAuth, type ClientAuthOptions } from './client-auth.ts';
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
  /** The `aud` of private_key_jwt assertions. Default: the token endpoint URL. */
  clientAssertionAudience?: string | undefined;
  /** Allow an http: token endpoint on a non-loopback host. Default false. */
  allowInsecureHttp?: boolean | undefined;
}

/** Parses and checks a token endpoint option. */
export function tokenEndpointUrl(value: unknown, path: string, allowInsecureHttp: unknown): URL {
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
  const endpoint = tokenEndpointUrl(options.tokenEndpoint, 'options.tokenEndpoint', options.allowInsecureHttp);
  assertString(options.clientId, 'options.clientId');
  const auth = clientAuth(options);
  const scope = stringList(options.scope, 'options.scope').join(' ');
  const resources = stringList(options.resource, 'options.resource');
  for (const resource of resources) parseHttpUrl(resource, 'options.resource');
  const params = extraParams(options.params, 'options.params');
  assertOptionalString(options.clientAssertionAudience, 'options.clientAssertionAudience');
  const audience = options.clientAssertionAudience ?? endpoint.href;
  return {
    getToken(context) {
      return requestToken(
        context,
        endpoint,
        async () => {
          const body = new URLSearchParams({ grant_type: 'client_credentials', ...params });
          if (scope) body.set('scope', scope);
          for (const resource of resources) body.append('resource', resource);
          const headers: Record<string, string> = {};
          await auth.apply(body, headers, audience, context.clock.seconds());
          return { body, headers };
        },
        auth.secrets,
      );
    },
  };
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
