import type { Exchange } from './peers.d.mts';

export interface ResourceServerOptions {
  /** The issuer whose JWT access tokens are accepted; its metadata is found by discovery (OIDC, then RFC 8414). */
  issuer: string;
  /**
   * Serve on this origin instead of a server of its own: the caller routes requests to
   * `handle` (e.g. everything under /api/ on the authorization server's origin). Default: its own server.
   */
  origin?: string | undefined;
  /** JWS algs accepted for DPoP proofs and advertised in `algs`. Default ['ES256']. */
  dpopAlgs?: string[];
  /** JWS algs accepted for the access tokens themselves. Default ['ES256']. */
  accessTokenAlgs?: string[];
  /** Browser origins allowed by CORS. Default: none. */
  corsOrigins?: string[];
  /** `false`: leave DPoP-Nonce out of Access-Control-Expose-Headers. Default true. */
  rsExposeNonce?: boolean;
  /** `true`: list `Date` in Access-Control-Expose-Headers. Default false. */
  exposeDate?: boolean;
  /** Nonce policy, as in {@link import('./peers.d.mts').PeersOptions}. Default 'required'. */
  rsNonce?: 'required' | 'always' | 'never';
  /** In `'required'` mode, replace the nonce once it is this old (checked lazily, per request). */
  rsNonceRotateMs?: number;
  /**
   * Its RFC 9728 metadata is always served at `/.well-known/oauth-protected-resource`.
   * `'challenge'` (default): the 401 to a request without credentials also names it
   * (`resource_metadata`); `'well-known'`: it does not.
   */
  resourceMetadata?: 'challenge' | 'well-known' | undefined;
  /** Seconds tolerated past `exp` (oauth4webapi clockTolerance). Default 0. */
  rsClockTolerance?: number;
  /** Called after every exchange (OPTIONS preflights included). */
  onExchange?: (entry: Exchange) => void;
  /** A counter object whose `api` the server increments for every non-OPTIONS request. Default: its own. */
  counts?: { api: number };
}

export interface ResourceServer {
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  /** `origin + '/'`: the audience tokens must carry (RFC 8707 resource indicator). */
  resource: string;
  /** `origin + '/.well-known/oauth-protected-resource'`: its RFC 9728 metadata. */
  resourceMetadataUrl: string;
  /** `resource + 'api/dpop/test'`: 200 with the token's claims as `[{ type, value }]`. */
  apiUrl: string;
  /** `resource + 'api/echo'`: 200 `{ method, url, contentType, bodyBase64, bodyLength, claims }`. */
  echoUrl: string;
  readonly counts: { api: number };
  /** The current nonce. */
  rsNonce(): string;
  /** Fetches the issuer's metadata now (it is otherwise fetched on the first request). */
  discover(): Promise<void>;
  /** Answers one request (what its own server does, or the caller's with `origin`). */
  handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void;
  close(): Promise<void>;
}

/** Marks the RS's own discovery/JWKS requests, so that wire logs leave them out. */
export const INTERNAL: string;

export function startResourceServer(options: ResourceServerOptions): Promise<ResourceServer>;

export function record(
  server: 'as' | 'rs',
  origin: string,
  req: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
  onExchange: ((entry: Exchange) => void) | undefined,
): void;
