/**
 * Where a token source's requests go, as a {@link Send}: here, the token endpoint given, with
 * the client authentication the options describe. `dpop-fetch/discovery` builds the same token
 * sources with another {@link EndpointFactory}, one that finds the endpoint from an issuer or
 * from the API (src/grants/discovered-endpoint.ts), so that this entry point carries no discovery.
 */
import { clientAuth } from './client-auth.ts';
import { endpointUrl, type EndpointOptions } from './form.ts';
import { grantRequest, type Send } from './request.ts';

/**
 * Checks the endpoint and client options (paths under `options.`) and returns how to send a
 * grant's form. `fromResource`: the source may find its authorization server from the API it is
 * used for (client credentials, with `dpop-fetch/discovery`).
 */
export type EndpointFactory = (options: EndpointOptions, fromResource?: boolean) => Send;

/** The token endpoint given in `options.tokenEndpoint`. */
export const tokenEndpoint: EndpointFactory = (options) => {
  const endpoint = endpointUrl(options.tokenEndpoint, 'options.tokenEndpoint', options.allowInsecureHttp);
  const auth = clientAuth(options, endpoint);
  return (context, form, secrets) => grantRequest(context, endpoint, auth, form, secrets);
};
