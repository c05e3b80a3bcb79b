/**
 * The {@link EndpointFactory} of `dpop-fetch/discovery`: the token endpoint given, as in the main
 * entry point; else the one in `issuer`'s metadata (RFC 8414); else, for client credentials, the
 * one of the first authorization server named by the metadata of the API the token is for
 * (RFC 9728), with that API as the token's `resource`. The client authentication is picked from
 * what the server lists when none is given, and the metadata is fetched again, once, when a
 * token request gets no answer.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-5
 */
import { raceAbort } from '../abort.ts';
import { invalidType } from '../assert.ts';
import { learnFrom, type TokenContext } from '../context.ts';
import { endpointOf, issuerUrl, metadataOf, type AuthorizationServerMetadata } from '../discovery/authorization-server.ts';
import { discoveryError, isStringList } from '../discovery/document.ts';
import { findResource, type ProtectedResourceMetadata } from '../discovery/protected-resource.ts';
import type { DPoPError } from '../errors.ts';
import { clientAuth, type AuthMethod, type ClientAuth, type ClientAuthOptions } from './client-auth.ts';
import { grantRequest, type Send } from './request.ts';
import { tokenEndpoint, type EndpointFactory } from './token-endpoint.ts';

/**
 * The client authentication to use: `authMethod` when given; else, of the methods the
 * credential given fits, the first the server lists (`client_secret_post` before
 * `client_secret_basic`); when it lists none, `client_secret_basic` for a secret (RFC 8414 §2's
 * default). A credential that fits nothing it lists is `ERR_DISCOVERY`. A public client
 * (no credential) uses `none` whatever the list says: it has nothing else.
 */
export function pickAuthMethod(options: ClientAuthOptions, metadata: AuthorizationServerMetadata | undefined): AuthMethod | undefined {
  if (options.authMethod || !metadata) return options.authMethod;
  const secret = options.clientSecret !== undefined;
  const fits: AuthMethod[] = secret ? ['client_secret_post', 'client_secret_basic'] : options.clientAssertionKey ? ['private_key_jwt'] : ['none'];
  const listed = metadata.token_endpoint_auth_methods_supported;
  if (!isStringList(listed)) return secret ? 'client_secret_basic' : fits[0];
  const pick = fits.find((method) => listed.includes(method));
  if (pick || (!options.clientAssertionKey && !secret)) return pick ?? 'none';
  throw discoveryError(
    `The authorization server ${metadata.issuer} takes client authentication by ${listed.slice(0, 10).join(', ') || 'no method'} (token_endpoint_auth_methods_supported), and the credential given fits only ${fits.join(' or ')}. Give the credential of a method it lists, or set authMethod.`,
  );
}

/** The token endpoint and client authentication of one copy of the metadata, made once per copy. */
interface Server {
  metadata: Promise<AuthorizationServerMetadata>;
  endpoint: URL;
  auth: ClientAuth;
}

/** Where a token source's requests go, with discovery: see the top of this file. */
export const discoveredEndpoint: EndpointFactory = (options, fromResource) => {
  const { allowInsecureHttp, issuer } = options;
  if (options.tokenEndpoint !== undefined) return tokenEndpoint(options);
  if (issuer !== undefined) issuerUrl(issuer, 'options.issuer', allowInsecureHttp);
  else if (!fromResource) throw invalidType('options.tokenEndpoint', 'a string or URL, unless options.issuer is given');
  // Checked now; made again for each copy of the metadata, which says what the server takes.
  clientAuth(options, new URL('https://token-endpoint.invalid/'));
  let resource: Promise<ProtectedResourceMetadata> | undefined;
  const servers = new WeakMap<AuthorizationServerMetadata, Server>();

  /** The API's metadata, found once per source from the first URL it is asked a token for. */
  function resourceOf(context: TokenContext): Promise<ProtectedResourceMetadata> {
    const { url } = context;
    if (url === undefined) {
      return Promise.reject(
        discoveryError('This token source has neither tokenEndpoint nor issuer: it finds its authorization server from the API it is used for (RFC 9728), which only createDPoPFetch tells it. Pass issuer or tokenEndpoint to use it otherwise.'),
      );
    }
    const target = new URL(url);
    // Failures are not kept: the next token request looks again. The lookup's own handler is the
    // only one that clears it, so when it runs, `resource` is still that lookup.
    if (!resource) (resource = findResource(target, context.fetch, context.signal, allowInsecureHttp, (headers) => learnFrom(context, target.origin, url, headers))).catch(() => (resource = undefined));
    return resource;
  }

  /** Where to send, from the cached metadata or (`stale` given) from a fresh fetch of it. */
  async function serverOf(context: TokenContext, stale?: Promise<AuthorizationServerMetadata>): Promise<[Server, string | undefined]> {
    let issuer = options.issuer;
    let url: URL;
    let resourceId: string | undefined;
    if (issuer === undefined) {
      const api = await raceAbort(resourceOf(context), context.signal);
      issuer = api.authorization_servers?.[0];
      try {
        url = issuerUrl(issuer, 'authorization_servers[0]', allowInsecureHttp);
      } catch (err) {
        const why = issuer === undefined ? 'names no authorization server (authorization_servers)' : `names an authorization server that is not an issuer (${(err as Error).message})`;
        throw discoveryError(`The protected resource ${api.resource} ${why}. Pass issuer or tokenEndpoint.`);
      }
      // The user's own resource indicator wins; else the token is asked for this API (RFC 9728 §1.2, RFC 8707).
      if (options.resource === undefined) resourceId = api.resource;
    } else {
      url = issuerUrl(issuer, 'options.issuer', allowInsecureHttp);
    }
    const promise = metadataOf(issuer!, url, context.fetch, stale);
    const metadata = await raceAbort(promise, context.signal);
    let server = servers.get(metadata);
    if (!server) {
      const endpoint = endpointOf(metadata, 'token_endpoint', allowInsecureHttp);
      // With private_key_jwt the assertion's aud is the issuer (RFC 7523bis, FAPI 2.0).
      const auth = clientAuth({ ...options, authMethod: pickAuthMethod(options, metadata), issuer: options.issuer ?? metadata.issuer }, endpoint);
      servers.set(metadata, (server = { metadata: promise, endpoint, auth }));
    }
    return [server, resourceId];
  }

  return async (context, form, secrets) => {
    const [server, resourceId] = await serverOf(context);
    const body = resourceId === undefined ? form : new URLSearchParams(form);
    if (resourceId !== undefined) body.append('resource', resourceId);
    try {
      return await grantRequest(context, server.endpoint, server.auth, body, secrets);
    } catch (err) {
      // No answer: the server may have moved its token endpoint. Its metadata is fetched again,
      // once, and the request sent again only if the endpoint changed: a request that may have
      // reached the server (a rotating refresh token, a code) is never sent twice to one place.
      if ((err as DPoPError | undefined)?.code !== 'ERR_TOKEN_NETWORK' || context.signal?.aborted) throw err;
      const [next] = await serverOf(context, server.metadata).catch(() => [server]);
      if (next.endpoint.href === server.endpoint.href) throw err;
      return grantRequest(context, next.endpoint, next.auth, body, secrets);
    }
  };
};
