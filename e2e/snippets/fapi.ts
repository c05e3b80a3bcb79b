// FAPI 2.0 (DPoP variant): pushed authorization requests, PKCE S256, private_key_jwt with the
// issuer as aud, iss checked on the way back, DPoP-bound tokens renewed by refresh token.
import { createDPoPFetch, type DPoPFetch } from 'dpop-fetch';
import { authorizationCode } from 'dpop-fetch/discovery';

export interface Bank {
  issuer: string;
  clientId: string;
  clientAssertionKey: CryptoKeyPair; // registered with the bank (its public JWK, with this kid)
  clientAssertionKid: string;
  redirectUri: string;
}

/** Before leaving for the bank: the request is pushed, because its metadata requires PAR. Keep state and codeVerifier. */
export function signIn({ redirectUri, ...client }: Bank, keyPair: CryptoKeyPair) {
  return authorizationCode.start({ ...client, redirectUri, scope: 'api', keyPair });
}

/** On the callback page: state and iss (RFC 9207) checked, the code exchanged once, then renewed by refresh token. */
export function afterCallback({ redirectUri, ...client }: Bank, keyPair: CryptoKeyPair, callbackUrl: string, login: { state: string; codeVerifier: string }): DPoPFetch {
  const code = authorizationCode.parseCallback(callbackUrl, { state: login.state, issuer: client.issuer });
  const tokens = authorizationCode({ ...client, redirectUri, code, codeVerifier: login.codeVerifier });
  return createDPoPFetch({ keyPair, requireDPoP: true, tokens });
}
