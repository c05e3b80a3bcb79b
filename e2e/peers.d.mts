/** One HTTP exchange on either peer, as seen on the wire (for session logs). */
export interface Exchange {
  server: 'as' | 'rs';
  method: string;
  /** Absolute URL of the request. */
  url: string;
  /** Lower-cased header names, as Node received them. */
  requestHeaders: Record<string, string | string[]>;
  /** Body as UTF-8, cut to 2 KB. Empty if the server never read it. */
  requestBody: string;
  status: number;
  responseHeaders: Record<string, string | string[]>;
  /** Body as UTF-8, cut to 4 KB. */
  responseBody: string;
}

export interface PeersOptions {
  /** Lifetime of issued access tokens in seconds (exp - iat). Default 300. */
  accessTokenTTL?: number;
  /** Extra oidc-provider client metadata objects, appended to the built-in clients. */
  clients?: Record<string, unknown>[];
  /** Browser origins allowed by CORS on both servers. Default: none. */
  corsOrigins?: string[];
  /** `false`: leave DPoP-Nonce out of Access-Control-Expose-Headers (the CORS pitfall). Default true. */
  exposeNonce?: boolean;
  /** `false`: only the resource server leaves DPoP-Nonce out of Access-Control-Expose-Headers (the AS still exposes it). Default: `exposeNonce`. */
  rsExposeNonce?: boolean;
  /**
   * Resource-server nonce policy.
   * - `'required'` (default): proofs must carry the current RS nonce; it changes only every
   *   `rsNonceRotateMs` (never, if unset).
   * - `'always'`: every request is answered with a fresh `use_dpop_nonce` demand, so no client
   *   can ever succeed (to prove a client retries exactly once).
   * - `'never'`: the RS neither demands nor sends a nonce.
   */
  rsNonce?: 'required' | 'always' | 'never';
  /** In `'required'` mode, replace the RS nonce once it is this old (checked lazily, per request); the one replaced is still taken if handed out less than this long ago (a retry that crosses a rotation). */
  rsNonceRotateMs?: number;
  /** Seconds the RS tolerates past `exp` (oauth4webapi clockTolerance). Default 0. */
  rsClockTolerance?: number;
  /** JWS algs accepted for DPoP proofs by both servers and advertised in `algs`. Default ['ES256']. */
  dpopAlgs?: string[];
  /** Called after every exchange on either server (OPTIONS preflights included). */
  onExchange?: (entry: Exchange) => void;
  /**
   * Enable the authorization code grant: `/interaction/<uid>` logs `accountId` (default
   * 'alice') in and grants every scope and resource asked for, with no page shown; refresh
   * tokens are issued to every client allowed the refresh_token grant (DPoP-bound for public
   * clients) and rotated on every use unless `rotateRefreshTokens: false`. Register the
   * clients through `clients`.
   */
  authorizationCode?: { accountId?: string; rotateRefreshTokens?: boolean };
  /**
   * Authorization-server nonce policy: `'required'` (default) demands a DPoP nonce on every
   * token request; `'never'` configures no nonces, so a proof with a bad `iat` is refused as
   * `invalid_dpop_proof` instead of being answered with a nonce.
   */
  asNonce?: 'required' | 'never';
  /** client_ids judged under oidc-provider's FAPI 2.0 profile (e.g. client assertion `aud` must be the issuer). */
  fapi2Clients?: string[];
  /** `true`: both servers list `Date` in Access-Control-Expose-Headers, so a page can read their clock. Default false. */
  exposeDate?: boolean;
  /**
   * `true`: one server on one origin answers for both, routed by path as Duende's demo serves
   * `/connect/token` and `/api/dpop/test`: `/api/…` goes to the resource server, everything else
   * to the authorization server. `issuer` and `resource` then share one origin. Default false.
   */
  sameOrigin?: boolean;
  /** `true`: the AS requires pushed authorization requests of every client (RFC 9126), and says so in its metadata. Default false. */
  requirePar?: boolean;
  /**
   * The RS always serves its RFC 9728 metadata at `/.well-known/oauth-protected-resource`.
   * `'challenge'` (default): its 401 to a request without credentials also names it
   * (`resource_metadata`); `'well-known'`: it does not, so a client must find the well-known URL.
   */
  resourceMetadata?: 'challenge' | 'well-known';
}

export interface Peers {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  issuer: string;
  /** `issuer + '/token'`. */
  tokenEndpoint: string;
  /** `issuer + '/auth'`. */
  authorizationEndpoint: string;
  /** `issuer + '/request'`: the pushed authorization request endpoint (RFC 9126). */
  parEndpoint: string;
  /** `resource + '.well-known/oauth-protected-resource'`: the RS's RFC 9728 metadata. */
  resourceMetadataUrl: string;
  /** Resource server base URL and token audience, `http://127.0.0.1:PORT/` (the issuer's origin with `sameOrigin`). */
  resource: string;
  /** `resource + 'api/dpop/test'`: 200 with the token's claims as `[{ type, value }]`. */
  apiUrl: string;
  /** `resource + 'api/echo'`: 200 `{ method, url, contentType, bodyBase64, bodyLength, claims }`. */
  echoUrl: string;
  /** `client_secret_post` client: 'm2m.dpop'. */
  clientId: string;
  clientSecret: string;
  scope: string;
  /** `client_secret_basic` client whose secret contains `: + / & = ? space`. */
  basicClient: { clientId: string; clientSecret: string };
  /** Live counters of non-OPTIONS requests to the token endpoint and to the resource server. */
  readonly counts: { token: number; api: number };
  resetCounts(): void;
  /**
   * Holds the next token request before the authorization server reads it: `arrived` resolves
   * when it comes, `gone` when its client closes the connection meanwhile. `release()` lets it
   * go and says what became of it: `dropped` unread when its client is gone, as if it never
   * reached the server, else `handled` as usual.
   */
  holdNextToken(): { arrived: Promise<void>; gone: Promise<void>; release(): Promise<'dropped' | 'handled'> };
  /** The resource server's current nonce. */
  rsNonce(): string;
  /** Stops both servers and drops keep-alive connections. */
  close(): Promise<void>;
}

export function startPeers(options?: PeersOptions): Promise<Peers>;

export function withPeers<T>(options: PeersOptions, fn: (peers: Peers) => T | Promise<T>): Promise<T>;
