/**
 * The authorization code grant in `dpop-fetch/discovery`: the main entry point's, built on the
 * same code, whose endpoints may come from `issuer`'s metadata, and whose `start` pushes the
 * request (PAR, RFC 9126, with a DPoP proof) when the server requires it or `par: true` asks.
 * A file of its own: `authorizationCode.start = …` keeps the whole grant in any bundle that
 * loads the file, and a client-credentials service has no use for it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc9126
 */
import { assertObject } from '../assert.ts';
import {
  codeSource,
  readCallback,
  startWith,
  type AuthorizationCodeOptions as GivenCodeOptions,
  type AuthorizationRequest,
  type AuthorizationRequestOptions as GivenRequestOptions,
} from './authorization-code.ts';
import type { Discovering } from './discovered.ts';
import { discoveredEndpoint } from './discovered-endpoint.ts';
import { pushTarget, type PushOptions } from './par.ts';
import type { TokenSource } from './source.ts';

/** Options of {@link authorizationCode}: `tokenEndpoint` or `issuer`. */
export type AuthorizationCodeOptions = Discovering<GivenCodeOptions>;
/** Options of {@link authorizationCode.start}: `authorizationEndpoint` or `issuer`, and how to push the request. */
export type AuthorizationRequestOptions = Omit<GivenRequestOptions, 'authorizationEndpoint' | 'allowInsecureHttp' | 'clientId'> & PushOptions;

/**
 * A token source for the authorization code grant, as in the main entry point, whose token
 * endpoint may come from `issuer`'s metadata. `authorizationCode.start` finds the authorization
 * endpoint the same way and pushes the request (PAR, RFC 9126, with a DPoP proof and the client's
 * credential) when the metadata has `require_pushed_authorization_requests` or `par: true` is given.
 *
 * @param options `tokenEndpoint` or `issuer`, the client, and the code with its verifier.
 * @example
 * const login = await authorizationCode.start({ issuer, clientId: 'spa', redirectUri, scope: 'api', keyPair });
 * // … after the callback:
 * const tokens = authorizationCode({ issuer, clientId: 'spa', redirectUri, code, codeVerifier });
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 */
export function authorizationCode(options: AuthorizationCodeOptions): TokenSource {
  return codeSource(options, discoveredEndpoint);
}

/**
 * The authorization request: PKCE S256, `state`, `dpop_jkt`; sent to the endpoint given or to
 * the issuer's, and pushed first (PAR) when the server requires it or `par: true`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9126#section-2
 */
async function startDiscovered(options: AuthorizationRequestOptions): Promise<AuthorizationRequest> {
  assertObject(options, 'options');
  return startWith(options, pushTarget(options));
}

authorizationCode.start = startDiscovered;
authorizationCode.parseCallback = readCallback;
