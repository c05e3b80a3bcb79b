/**
 * Authorization server metadata from an issuer: RFC 8414 (`/.well-known/oauth-authorization-server`
 * inserted before the issuer's path), then OpenID Connect Discovery 1.0
 * (`/.well-known/openid-configuration` appended to it). Fetched once per issuer however many
 * callers ask at once, kept for its HTTP freshness (an hour when the server says nothing, a day
 * at most), never kept when it failed, and used only when its `issuer` is the one asked for,
 * character for character (RFC 8414 §3.3: the defence against mix-up attacks).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 */
import { raceAbort } from '../abort.ts';
import { assertString, invalidValue } from '../assert.ts';
import { checkDiscoveryOptions, checkDPoPAlgs, discoveryError, getDocument, isStringList, urlProblem, type DiscoveryOptions } from './document.ts';

/** An authorization server's metadata (RFC 8414 §2): the members dpop-fetch uses, checked, and every other as the server sent it. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly authorization_endpoint?: string;
  readonly token_endpoint?: string;
  readonly pushed_authorization_request_endpoint?: string;
  readonly require_pushed_authorization_requests?: boolean;
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  readonly dpop_signing_alg_values_supported?: readonly string[];
  readonly [member: string]: unknown;
}

/** The URL members dpop-fetch may send to, checked whenever present. */
export type EndpointMember = 'authorization_endpoint' | 'token_endpoint' | 'pushed_authorization_request_endpoint';
const ENDPOINTS: readonly EndpointMember[] = ['authorization_endpoint', 'token_endpoint', 'pushed_authorization_request_endpoint'];

// Issuers remembered at once; a process talks to a handful.
const MAX_ISSUERS = 100;
// How long one fetch of the metadata may take, shared by every caller waiting on it.
const TIMEOUT_MS = 30_000;

interface Entry {
  promise: Promise<AuthorizationServerMetadata>;
  /** When the metadata stops being fresh, ms since the epoch; Infinity while it is being fetched. */
  expires: number;
}
const cache = new Map<string, Entry>();

/**
 * Parses an issuer identifier (RFC 8414 §2): an https: URL (http: on a loopback host or with
 * `allowInsecureHttp`) with no query, fragment or credentials. A `TypeError` for `path`.
 */
export function issuerUrl(value: unknown, path: string, allowInsecureHttp: boolean | undefined): URL {
  assertString(value, path);
  const url = urlProblem(value, allowInsecureHttp);
  if (typeof url === 'string') throw invalidValue(path, `${url}: an issuer is an https: URL with no query or fragment`);
  if (url.search || value.includes('?')) throw invalidValue(path, 'has a query: an issuer is an https: URL with no query or fragment (RFC 8414 §2)');
  return url;
}

/** A well-known URL for `url` (RFC 8615): inserted before its path (RFC 8414 §3.1), or appended to it (OIDC Discovery §4). */
export function wellKnown(url: URL, name: string, append = false): URL {
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return new URL(append ? `${url.origin}${path}/.well-known/${name}` : `${url.origin}/.well-known/${name}${path}`);
}

/** One of the metadata's endpoints, checked for this caller's scheme policy; `ERR_DISCOVERY` when missing or unusable. */
export function endpointOf(metadata: AuthorizationServerMetadata, member: EndpointMember, allowInsecureHttp: boolean | undefined): URL {
  const value = metadata[member];
  if (value === undefined) throw discoveryError(`The authorization server ${metadata.issuer} names no ${member} in its metadata. Pass the endpoint yourself.`);
  const url = urlProblem(value, allowInsecureHttp);
  if (typeof url === 'string') throw discoveryError(`The ${member} in the metadata of ${metadata.issuer} ${url}. Fix the server's metadata.`);
  return url;
}

/** Checks a document found at `where` against the issuer asked for; returns it frozen. */
function checkMetadata(json: Record<string, unknown>, issuer: string, where: string): AuthorizationServerMetadata {
  const named = json.issuer;
  if (named !== issuer) {
    const shown = typeof named === 'string' ? `"${named.slice(0, 200)}"` : 'no issuer';
    throw discoveryError(
      `The metadata at ${where} names ${shown}, not the issuer asked for, "${issuer}": RFC 8414 §3.3 forbids using it (it may come from another server). Pass the issuer exactly as the server's metadata writes it.`,
    );
  }
  const who = `The authorization server ${issuer}`;
  checkDPoPAlgs(json, who);
  // The scheme is judged per caller (allowInsecureHttp) by endpointOf; the rest here, once.
  for (const member of ENDPOINTS) {
    const problem = json[member] === undefined ? undefined : urlProblem(json[member], true);
    if (typeof problem === 'string') throw discoveryError(`The ${member} in the metadata of ${issuer} ${problem}. Fix the server's metadata.`);
  }
  if (json.require_pushed_authorization_requests !== undefined && typeof json.require_pushed_authorization_requests !== 'boolean') {
    throw discoveryError(`${who} has a "require_pushed_authorization_requests" that is not a boolean. Fix the server's metadata.`);
  }
  const methods = json.token_endpoint_auth_methods_supported;
  if (methods !== undefined && !isStringList(methods)) throw discoveryError(`${who} has a "token_endpoint_auth_methods_supported" that is not a list of strings. Fix the server's metadata.`);
  // Every caller shares this object: none may change what the others see.
  for (const value of Object.values(json)) if (typeof value === 'object' && value !== null) Object.freeze(value);
  return Object.freeze(json) as AuthorizationServerMetadata;
}

/** Fetches and checks the metadata: RFC 8414's URL first, OIDC's when that has no document. */
async function fetchMetadata(issuer: string, url: URL, send: typeof fetch): Promise<[AuthorizationServerMetadata, number]> {
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const tried: string[] = [];
  for (const where of [wellKnown(url, 'oauth-authorization-server'), wellKnown(url, 'openid-configuration', true)]) {
    const found = await getDocument(where, send, signal);
    if (typeof found !== 'string') return [checkMetadata(found.json, issuer, where.href), found.freshFor];
    tried.push(`${where.href} answered ${found}`);
  }
  throw discoveryError(`Found no metadata for the issuer ${issuer}: ${tried.join('; ')}. Check the issuer (exactly as the server writes it), or pass the endpoints yourself.`);
}

/**
 * The metadata of `issuer`: the cached copy while it is fresh, else one fetch shared by every
 * caller waiting now. `stale`, a copy a caller found unusable (its token endpoint did not
 * answer), is dropped first if it is still the cached one, so it is fetched again once.
 *
 * @param url the issuer, parsed by {@link issuerUrl}.
 */
export function metadataOf(issuer: string, url: URL, send: typeof fetch, stale?: Promise<AuthorizationServerMetadata>): Promise<AuthorizationServerMetadata> {
  let entry = cache.get(issuer);
  if (entry && (entry.promise === stale || entry.expires <= Date.now())) entry = undefined;
  if (!entry) {
    const fresh: Entry = {
      expires: Infinity,
      promise: fetchMetadata(issuer, url, send).then(
        ([metadata, freshFor]) => {
          fresh.expires = Date.now() + freshFor;
          return metadata;
        },
        (err: unknown) => {
          if (cache.get(issuer) === fresh) cache.delete(issuer);
          throw err;
        },
      ),
    };
    fresh.promise.catch(() => {}); // a fetch nobody waits for any more must not be unhandled
    entry = fresh;
    cache.delete(issuer);
    cache.set(issuer, fresh);
    if (cache.size > MAX_ISSUERS) cache.delete(cache.keys().next().value!);
  }
  return entry.promise;
}

/**
 * Fetches an authorization server's metadata from its issuer identifier (RFC 8414, then
 * OpenID Connect Discovery), as dpop-fetch's token sources do when given `issuer`.
 *
 * The document's `issuer` must be the one given, exactly (RFC 8414 §3.3); it must list ES256
 * among its DPoP algorithms when it lists any; its endpoints must be https: URLs. Concurrent
 * calls for one issuer share one request, and the token sources share it too; the answer is
 * kept for its HTTP freshness (an hour when the server says nothing, a day at most). Any
 * failure is a `DPoPError` with code `ERR_DISCOVERY`.
 *
 * @param issuer the issuer identifier, e.g. `https://as.example` or `https://as.example/tenant`.
 * @param options `fetch`, `signal`, `allowInsecureHttp`.
 * @returns the metadata, frozen.
 * @example
 * const as = await discover('https://as.example');
 * console.log(as.token_endpoint, as.pushed_authorization_request_endpoint);
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export async function discover(issuer: string, options: DiscoveryOptions = {}): Promise<AuthorizationServerMetadata> {
  assertString(issuer, 'issuer');
  const send = checkDiscoveryOptions(options);
  const metadata = await raceAbort(metadataOf(issuer, issuerUrl(issuer, 'issuer', options.allowInsecureHttp), send), options.signal);
  for (const member of ENDPOINTS) if (metadata[member] !== undefined) endpointOf(metadata, member, options.allowInsecureHttp);
  return metadata;
}
