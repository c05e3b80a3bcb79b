// The public API at a glance. No logic lives here.
export { generateKeyPair, importKeyPair, exportPublicJwk } from './key.ts';
export type { KeyInput, KeyOptions, PublicJwk } from './key.ts';
export { calculateThumbprint } from './thumbprint.ts';
export { createProof } from './proof.ts';
export type { ProofOptions } from './proof.ts';
export { clientCredentials } from './token.ts';
export type { ClientCredentialsOptions, TokenSource } from './token.ts';
export type { TokenContext, TokenSet } from './token-request.ts';
export type { AuthMethod } from './client-auth.ts';
export { createDPoPFetch } from './fetch.ts';
export type { DPoPFetch, DPoPFetchOptions } from './fetch.ts';
export type { DPoPEvent, EventListener } from './events.ts';
export { parseWwwAuthenticate } from './www-authenticate.ts';
export type { Challenge } from './www-authenticate.ts';
export { DPoPError, OAuthError, TokenResponseError, ErrorCode } from './errors.ts';
export type { DPoPErrorOptions, OAuthErrorFields } from './errors.ts';
export type { ArgumentError, ArgErrorCode } from './assert.ts';
