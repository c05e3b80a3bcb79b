/**
 * Protected resource metadata from the API's own URL (RFC 9728): the API is asked once without
 * a token, and its `401` may name the metadata (`WWW-Authenticate: … resource_metadata="…"`,
 * §5.1); otherwise, or when that document cannot be had, the well-known URLs are tried, for the
 * URL's path and then for its origin (§3.1). The document's `resource` must cover the URL: the
 * same origin, and a path that is a prefix of the URL's path on a segment boundary (§3.3 asks
 * for the very URL; MCP servers and draft-ietf-oauth-rfc9728bis name the API's base instead).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9728
 */
import { invalidValue, parseHttpUrl } from '../assert.ts';
import { parseWwwAuthenticate } from '../www-authenticate.ts';
import { checkDiscoveryOptions, checkDPoPAlgs, discoveryError, getDocument, isStringList, unreachable, urlProblem, type DiscoveryOptions } from './document.ts';

/** A protected resource's metadata (RFC 9728 §2): the members dpop-fetch uses, checked, and every other as the server sent it. */
export interface ProtectedResourceMetadata {
  /** The resource identifier: the token request's `resource` (RFC 8707). */
  readonly resource: string;
  /** Issuers of the authorization servers that issue tokens for it; dpop-fetch uses the first. */
  readonly authorization_servers?: readonly string[];
  readonly dpop_signing_alg_values_supported?: readonly string[];
  readonly dpop_bound_access_tokens_required?: boolean;
  readonly scopes_supported?: readonly string[];
  readonly [member: string]: unknown;
}

/** Whether the resource path `base` covers `path`: equal, or a prefix ending at a `/`. */
function covers(base: string, path: string): boolean {
  return path === base || path.startsWith(base.endsWith('/') ? base : `${base}/`);
}

/** The `resource_metadata` of a challenge (DPoP's first, then any other's), if one names it. */
function namedMetadata(header: string | null): string | undefined {
  const challenges = parseWwwAuthenticate(header ?? '');
  return (challenges.find((c) => c.scheme === 'dpop' && c.params.resource_metadata) ?? challenges.find((c) => c.params.resource_metadata))?.params.resource_metadata;
}

/** Checks a document found at `where` for the API at `url`; returns it frozen. */
function checkResource(json: Record<string, unknown>, url: URL, where: string, allowInsecureHttp: boolean | undefined): ProtectedResourceMetadata {
  const { resource, authorization_servers: servers } = json;
  const parsed = urlProblem(resource, allowInsecureHttp);
  if (typeof parsed === 'string') throw discoveryError(`The "resource" in the protected resource metadata at ${where} ${parsed}. Fix the server's metadata.`);
  if (parsed.origin !== url.origin || !covers(parsed.pathname, url.pathname)) {
    throw discoveryError(
      `The protected resource metadata at ${where} is for ${String(resource).slice(0, 200)}, which does not cover ${url.href} (same origin, and a path that is a prefix of its path, RFC 9728 §3.3): it may come from another server. Pass issuer or tokenEndpoint if this API really uses that one's authorization server.`,
    );
  }
  if (servers !== undefined && !(isStringList(servers) && servers.every(Boolean))) {
    throw discoveryError(`The "authorization_servers" in the protected resource metadata at ${where} is not a list of issuers. Fix the server's metadata.`);
  }
  checkDPoPAlgs(json, `The protected resource ${resource as string}`);
  for (const value of Object.values(json)) if (typeof value === 'object' && value !== null) Object.freeze(value);
  return Object.freeze(json) as ProtectedResourceMetadata;
}

/**
 * Finds and checks the metadata of the resource that serves `url`. `learn` sees the headers of
 * the API's answer to the request without a token (its nonce, its `Date`), so that the request
 * made with the token needs no extra round trip for them.
 */
export async function findResource(
  url: URL,
  send: typeof fetch,
  signal: AbortSignal | undefined,
  allowInsecureHttp: boolean | undefined,
  learn?: (headers: Headers) => void,
): Promise<ProtectedResourceMetadata> {
  const target = new URL(url.origin + url.pathname);
  const tried: string[] = [];
  const candidates: URL[] = [];
  let response: Response;
  try {
    // No token and no proof: what the API says to anyone (RFC 9728 §5.1); never followed elsewhere.
    response = await send(target.href, { redirect: 'manual', ...(signal ? { signal } : {}) });
  } catch (err) {
    throw unreachable(target, signal, err);
  }
  learn?.(response.headers);
  await response.body?.cancel().catch(() => {});
  const named = response.status === 401 ? namedMetadata(response.headers.get('www-authenticate')) : undefined;
  const where = named === undefined ? undefined : urlProblem(named, allowInsecureHttp);
  if (typeof where === 'object') candidates.push(where);
  else tried.push(`${target.href} answered HTTP ${response.status} without a token${where ? `, naming a resource_metadata that ${where}` : ' and named no resource_metadata'}`);
  // RFC 9728 §3.1: the well-known path goes before the resource's path (kept as is, as oauth4webapi keeps it).
  if (target.pathname !== '/') candidates.push(new URL(`/.well-known/oauth-protected-resource${target.pathname}`, target));
  candidates.push(new URL('/.well-known/oauth-protected-resource', target));
  for (const candidate of candidates) {
    const found = await getDocument(candidate, send, signal);
    if (typeof found !== 'string') return checkResource(found.json, target, candidate.href, allowInsecureHttp);
    tried.push(`${candidate.href} answered ${found}`);
  }
  throw discoveryError(`Found no protected resource metadata (RFC 9728) for ${target.href}: ${tried.join('; ')}. Pass issuer or tokenEndpoint.`);
}

/**
 * Fetches the metadata of the protected resource that serves `url` (RFC 9728), as
 * `clientCredentials` does when given neither `tokenEndpoint` nor `issuer`.
 *
 * The URL is requested once without a token; a `401` naming `resource_metadata` says where the
 * document is, else the well-known URLs for the URL's path and for its origin are tried. The
 * document's `resource` must be on the URL's origin with a path that is a prefix of the URL's;
 * it must list ES256 among its DPoP algorithms when it lists any. Any failure is a `DPoPError`
 * with code `ERR_DISCOVERY`.
 *
 * @param url a URL of the API, e.g. the one you are about to call.
 * @param options `fetch`, `signal`, `allowInsecureHttp`.
 * @returns the metadata, frozen; `authorization_servers[0]` is the issuer to {@link discover}.
 * @example
 * const rs = await protectedResource('https://api.example/things');
 * const as = await discover(rs.authorization_servers![0]!);
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-3
 */
export async function protectedResource(url: string | URL, options: DiscoveryOptions = {}): Promise<ProtectedResourceMetadata> {
  const parsed = parseHttpUrl(url, 'url');
  const send = checkDiscoveryOptions(options);
  parsed.hash = '';
  const problem = urlProblem(parsed.href, options.allowInsecureHttp);
  if (typeof problem === 'string') throw invalidValue('url', problem);
  return findResource(parsed, send, options.signal, options.allowInsecureHttp);
}
