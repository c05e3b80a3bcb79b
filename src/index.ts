// The public API at a glance. No logic lives here.
export { generateKeyPair, importKeyPair, exportPublicJwk } from './key.ts';
export type { KeyInput, KeyOptions, PublicJwk } from './key.ts';
export { calculateThumbprint } from './thumbprint.ts';
export { createProof } from './proof.ts';
export type { ProofOptions } from './proof.ts';
export { DPoPError, OAuthError, TokenResponseError, ErrorCode } from './errors.ts';
export type { OAuthErrorFields } from './errors.ts';
export type { ArgumentError, ArgErrorCode } from './assert.ts';
