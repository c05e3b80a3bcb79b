// The `dpop-fetch/discovery` entry point: token sources configured by an issuer or by nothing
// but the API's URL, pushed authorization requests, and the metadata itself. Re-exports only.
// Apps that give endpoints never import it, so they never ship it.
export { clientCredentials, refreshToken } from './grants/discovered.ts';
export type { ClientCredentialsOptions, RefreshTokenOptions } from './grants/discovered.ts';
export { authorizationCode } from './grants/discovered-code.ts';
export type { AuthorizationCodeOptions, AuthorizationRequestOptions } from './grants/discovered-code.ts';
export type { PushOptions } from './grants/par.ts';
export { discover } from './discovery/authorization-server.ts';
export type { AuthorizationServerMetadata } from './discovery/authorization-server.ts';
export { protectedResource } from './discovery/protected-resource.ts';
export type { ProtectedResourceMetadata } from './discovery/protected-resource.ts';
export type { DiscoveryOptions } from './discovery/document.ts';
