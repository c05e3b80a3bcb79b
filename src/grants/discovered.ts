/**
 * Client credentials and refresh tokens in `dpop-fetch/discovery`: the same grants as the main
 * entry point, built on the same code, that also take `issuer` in place of `tokenEndpoint`, and,
 * for client credentials, nothing at all: the authorization server is then found from the API
 * (RFC 9728). The authorization code grant is in src/grants/discovered-code.ts.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414
 * @see https://www.rfc-editor.org/rfc/rfc9728
 */
import type { ClientCredentialsOptions as GivenCredentialsOptions } from './client-credentials.ts';
import { assertObject } from '../assert.ts';
import { discoveredEndpoint } from './discovered-endpoint.ts';
import { requestForm } from './form.ts';
import type { RefreshTokenOptions as GivenRefreshOptions } from './refresh-token.ts';
import { refreshSource } from './refresh-token.ts';
import type { TokenSource } from './source.ts';

/** `T` with `tokenEndpoint` optional. */
export type Discovering<T> = Omit<T, 'tokenEndpoint'> & {
  /** The token endpoint; without it, the one `issuer`'s metadata names (RFC 8414, OpenID Connect Discovery). */
  tokenEndpoint?: string | URL | undefined;
  /**
   * The authorization server's issuer identifier, exactly as its metadata writes it. Its
   * metadata gives the token endpoint and the default client authentication; with
   * `private_key_jwt` it is the assertion's `aud`.
   */
  issuer?: string | undefined;
};

/**
 * Options of {@link clientCredentials}: `tokenEndpoint`, or `issuer`, or neither, and the
 * authorization server is found from the API the token is for (RFC 9728).
 */
export type ClientCredentialsOptions = Discovering<GivenCredentialsOptions>;
/** Options of {@link refreshToken}: `tokenEndpoint` or `issuer`. */
export type RefreshTokenOptions = Discovering<GivenRefreshOptions>;

/**
 * A token source for the client-credentials grant, with DPoP, that finds its token endpoint.
 *
 * With `tokenEndpoint`, it is the main entry point's `clientCredentials`. With `issuer`, the
 * token endpoint comes from the issuer's metadata (RFC 8414, then OpenID Connect Discovery),
 * and the client authentication, when `authMethod` is not given, from what it lists. With
 * neither, the first request createDPoPFetch makes is asked first without a token: the API's
 * `401` names its metadata (`resource_metadata`, RFC 9728), or the well-known URLs are tried;
 * the metadata's `resource` must cover the URL, its first authorization server is the issuer,
 * and the token is asked for that `resource` (RFC 8707). That costs the two metadata requests
 * on top of the usual ones, once per source; the answer without a token teaches the API's
 * nonce, so the request with the token needs no retry for it.
 *
 * @param options `tokenEndpoint`, `issuer`, or neither; the client's credentials; `scope`, `resource`, `params`.
 * @example
 * const api = createDPoPFetch({ keyPair, tokens: clientCredentials({ clientId: 'app', clientSecret, scope: 'api' }) });
 * await api('https://api.example/things'); // the API names its authorization server
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-5
 */
export function clientCredentials(options: ClientCredentialsOptions): TokenSource {
  assertObject(options, 'options');
  const send = discoveredEndpoint(options, true);
  const form = requestForm(options, { grant_type: 'client_credentials' });
  // As the main entry point's; a source that finds its server from the API has none: its
  // tokens are for whichever API it is used with (RFC 8707 resource), so it shares only nonces.
  const given = options.tokenEndpoint ?? options.issuer;
  return { getToken: (context) => send(context, form), identity: given === undefined ? undefined : `${given} ${options.clientId} ${form}` };
}

/**
 * A token source for the refresh-token grant, as in the main entry point, whose token endpoint
 * may come from `issuer`'s metadata.
 *
 * @param options `tokenEndpoint` or `issuer`, the client, the refresh token, and where to put new ones.
 * @example
 * const tokens = refreshToken({ issuer: 'https://as.example', clientId: 'spa', refreshToken: stored, onRefreshToken: store });
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export function refreshToken(options: RefreshTokenOptions): TokenSource {
  return refreshSource(options, discoveredEndpoint);
}
