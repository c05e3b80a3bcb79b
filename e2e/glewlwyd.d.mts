import type { ResourceServer, ResourceServerOptions } from './resource-server.d.mts';

export interface GlewlwydOptions {
  /** Lifetime of issued access tokens in seconds (the plugin's access-token-duration). Default 300. */
  accessTokenTTL?: number;
  /** Successful token requests a DPoP nonce serves before Glewlwyd replaces it (oauth-dpop-nonce-counter). Default 10. */
  nonceCounter?: number;
  /** How many confidential clients to register (`dpop-fetch`, `dpop-fetch-2`, …). Default 1. */
  clients?: number;
  /**
   * More clients, as Glewlwyd's admin API takes them (`client_id`, `confidential`,
   * `token_endpoint_auth_method`, `authorization_type`, `jwks` for private_key_jwt with
   * `token_endpoint_signing_alg`, …); `enabled`, `scope: ['api']` and the redirect URI are added.
   */
  extraClients?: Record<string, unknown>[];
  /** The client's registered redirect URI. Default `http://127.0.0.1:9/callback` (nothing listens there: the test reads the Location). */
  redirectUri?: string;
  /** Extra or changed OIDC plugin parameters (Glewlwyd's names, e.g. `oauth-dpop-iat-gap-duration`). */
  pluginParameters?: Record<string, unknown>;
  /** Options of the resource server in front (its `issuer` is Glewlwyd's). */
  resourceServer?: Omit<ResourceServerOptions, 'issuer'>;
}

export interface Glewlwyd {
  /** The installed Glewlwyd, e.g. "2.7.5". */
  version: string;
  /** `http://127.0.0.1:PORT/api/oidc`, no trailing slash; also the `iss` of its tokens. */
  issuer: string;
  /** `issuer + '/token'`. */
  tokenEndpoint: string;
  /** `issuer + '/auth'`. */
  authorizationEndpoint: string;
  /** The confidential client: client_credentials, authorization_code and refresh_token; client_secret_post or _basic. */
  clientId: string;
  clientSecret: string;
  /** Every client registered (the first is `clientId`). */
  clients: Array<{ clientId: string; clientSecret: string }>;
  redirectUri: string;
  /** `'api'`: the client's scope, granted by the user in the code flow. */
  scope: string;
  /** The resource server in front, and the `aud` of tokens asked for with `resource`. */
  resource: string;
  apiUrl: string;
  echoUrl: string;
  rs: ResourceServer;
  /** The glewlwyd process. */
  pid: number;
  /** The user who logs in during the code flow. */
  username: string;
  /**
   * The user's browser: logs in with a password, grants the client the URL's scope, and
   * follows the authorization URL (with `g_continue`); returns the redirect URI it answers with.
   */
  authorize(authorizationUrl: string): Promise<string>;
  /** The server's own log so far (its last 64 KB). */
  log(): string;
  /** Stops glewlwyd (by PID) and the resource server, and removes the database. */
  close(): Promise<void>;
}

/** Whether `glewlwyd` and `sqlite3` are on the PATH. */
export function glewlwydInstalled(): boolean;

/** The installed Glewlwyd version, from `glewlwyd --help`. */
export function glewlwydVersion(): string;

export function startGlewlwyd(options?: GlewlwydOptions): Promise<Glewlwyd>;

export function withGlewlwyd<T>(options: GlewlwydOptions, fn: (glewlwyd: Glewlwyd) => T | Promise<T>): Promise<T>;
