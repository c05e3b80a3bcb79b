/**
 * Where `authorizationCode.start` of `dpop-fetch/discovery` sends the browser: the endpoint
 * given or the one in the issuer's metadata (RFC 8414), and the request pushed to the server
 * first (PAR, RFC 9126) when the metadata requires it (`require_pushed_authorization_requests`)
 * or `par: true` asks for it. The push
 * carries a DPoP proof (RFC 9449 §10.1) beside `dpop_jkt`, and client authentication when the
 * client has a credential; the browser then goes to the authorization endpoint with only
 * `client_id` and the `request_uri` the server returned.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9126
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-10.1
 */
import { raceAbort } from '../abort.ts';
import { assertBoolean, assertFunction, invalidType, invalidValue, tagOf } from '../assert.ts';
import { createClock } from '../clock.ts';
import type { TokenContext } from '../context.ts';
import { endpointOf, issuerUrl, metadataOf, type AuthorizationServerMetadata } from '../discovery/authorization-server.ts';
import { TokenResponseError } from '../errors.ts';
import { createNonceCache } from '../nonce.ts';
import { clientAuth, type ClientAuthOptions } from './client-auth.ts';
import { pickAuthMethod } from './discovered-endpoint.ts';
import { endpointUrl } from './form.ts';
import { grantRequest } from './request.ts';

/**
 * Where `start` sends the browser, for the authorization request `query`: in the main entry
 * point, the endpoint given with `query` itself; here, the endpoint given or from the issuer's
 * metadata, and only `client_id` and a `request_uri` once the request was pushed (PAR).
 */
export type AuthorizationTarget = (query: URLSearchParams, endpoint: URL | undefined) => Promise<[URL, URLSearchParams]>;

/** The options of `authorizationCode.start` that decide where the request goes and how it is pushed. */
export interface PushOptions extends ClientAuthOptions {
  /** The authorization endpoint: https, or http on a loopback host (or with `allowInsecureHttp`). Without it, from `issuer`'s metadata. */
  authorizationEndpoint?: string | URL | undefined;
  /** The DPoP key pair the tokens will be bound to; its thumbprint is sent as `dpop_jkt`, and it signs the push's proof. */
  keyPair: CryptoKeyPair;
  /** Push the request (RFC 9126) even when the server's metadata does not require it. Default: only when it does. */
  par?: boolean | undefined;
  /** Where to push; default: the `pushed_authorization_request_endpoint` of `issuer`'s metadata. */
  pushedAuthorizationRequestEndpoint?: string | URL | undefined;
  /** The fetch for the metadata and the push. Default: the global fetch at call time. */
  fetch?: typeof fetch | undefined;
  /** Ends the wait for the metadata and the push. */
  signal?: AbortSignal | undefined;
  /** Allow http: endpoints on non-loopback hosts. Default false. */
  allowInsecureHttp?: boolean | undefined;
}

/** A pushed request's answer (RFC 9126 §2.2): a `request_uri` and how many seconds it lasts. */
function requestUriOf(json: unknown, response: Response): string {
  const { request_uri: uri, expires_in: expiresIn } = (json ?? {}) as Record<string, unknown>;
  if (response.status !== 201 || typeof uri !== 'string' || !/^[\x21-\x7e]+$/.test(uri) || !(typeof expiresIn === 'number' && expiresIn > 0)) {
    throw new TokenResponseError(
      'ERR_TOKEN_RESPONSE',
      `The pushed authorization request endpoint answered HTTP ${response.status} without a usable "request_uri" and "expires_in" (RFC 9126 §2.2). Check the pushedAuthorizationRequestEndpoint (or the server's metadata).`,
      response.status,
      { response },
    );
  }
  return uri;
}

/**
 * Checks the options that decide where the request goes (paths under `options.`), and returns
 * the {@link AuthorizationTarget} that sends it there: the endpoint given or discovered, with the
 * query itself, or with only `client_id` and `request_uri` once it was pushed.
 */
export function pushTarget(options: PushOptions): AuthorizationTarget {
  const { issuer, par, allowInsecureHttp, signal } = options;
  if (issuer !== undefined) issuerUrl(issuer, 'options.issuer', allowInsecureHttp);
  else if (options.authorizationEndpoint === undefined) throw invalidType('options.authorizationEndpoint', 'a string or URL, unless options.issuer is given');
  assertBoolean(par, 'options.par');
  const pushTo = options.pushedAuthorizationRequestEndpoint === undefined ? undefined : endpointUrl(options.pushedAuthorizationRequestEndpoint, 'options.pushedAuthorizationRequestEndpoint', allowInsecureHttp);
  if (par && !pushTo && issuer === undefined) throw invalidValue('options.par', 'needs options.pushedAuthorizationRequestEndpoint, or options.issuer whose metadata names where to push');
  assertFunction(options.fetch, 'options.fetch');
  if (signal !== undefined && tagOf(signal) !== 'AbortSignal') throw invalidType('options.signal', 'an AbortSignal');
  // The credential is used only for a push, but checked in any case.
  clientAuth(options, new URL('https://par-endpoint.invalid/'));
  const send: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return (query, given) => pushed(options, send, pushTo, query, given);
}

/** See {@link pushTarget}; `given` is the authorization endpoint given, checked. */
async function pushed(options: PushOptions, send: typeof fetch, pushTo: URL | undefined, query: URLSearchParams, given: URL | undefined): Promise<[URL, URLSearchParams]> {
  const { issuer, allowInsecureHttp, signal } = options;
  let metadata: AuthorizationServerMetadata | undefined;
  // The metadata is read only for what was not given: the endpoint, or where to push.
  if (issuer !== undefined && (!given || (options.par && !pushTo))) {
    metadata = await raceAbort(metadataOf(issuer, issuerUrl(issuer, 'options.issuer', allowInsecureHttp), send), signal);
  }
  const endpoint = given ?? endpointOf(metadata!, 'authorization_endpoint', allowInsecureHttp);
  if (!options.par && metadata?.require_pushed_authorization_requests !== true) return [endpoint, query];

  const target = pushTo ?? endpointOf(metadata!, 'pushed_authorization_request_endpoint', allowInsecureHttp);
  // RFC 9126 §2: the push is authenticated as a token request is; an assertion's aud is the issuer when known.
  const auth = clientAuth({ ...options, authMethod: pickAuthMethod(options, metadata), issuer: issuer ?? metadata?.issuer }, target);
  // Its own nonces and clock: this page has no createDPoPFetch yet, and the push is one request.
  const context: TokenContext = { keyPair: options.keyPair, fetch: send, nonces: createNonceCache(), clock: createClock(), requireDPoP: false, signal };
  const requestUri = await grantRequest(context, target, auth, query, [], requestUriOf, 'pushed authorization request endpoint');
  return [endpoint, new URLSearchParams({ client_id: options.clientId, request_uri: requestUri })];
}
