/**
 * The client-credentials grant (RFC 6749 §4.4) with DPoP: a service gets tokens for itself.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
import { assertObject } from '../assert.ts';
import { clientAuth } from './client-auth.ts';
import { endpointUrl, requestForm, type EndpointOptions } from './form.ts';
import { grantRequest } from './request.ts';
import type { TokenSource } from './source.ts';

/** Options of {@link clientCredentials}. */
export interface ClientCredentialsOptions extends EndpointOptions {
  /** The token endpoint: https, or http on a loopback host (or with `allowInsecureHttp`). */
  tokenEndpoint: string | URL;
  /** Space-separated scopes, or a list. */
  scope?: string | readonly string[] | undefined;
  /** Extra form parameters for the token request. */
  params?: Record<string, string> | undefined;
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
  // The form holds no credential (they are added to each attempt): the identity is no secret.
  return { getToken: (context) => grantRequest(context, endpoint, auth, form), identity: `${options.tokenEndpoint} ${options.clientId} ${form}` };
}
