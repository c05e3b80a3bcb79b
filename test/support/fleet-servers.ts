// A fake authorization server and API in this process, passed to createDPoPFetch as `fetch`,
// for the fleet tests that need to count and shape every exchange exactly (the real peers, for
// the rest, are in *.peers.test.ts and the engine tests). Both demand their own DPoP nonce; the
// authorization server binds each token to the thumbprint of the proof's key (jose computes it),
// and the API verifies every proof with jose and refuses a token presented with another key, so
// a request that succeeds was made with the key the token is bound to.
import * as jose from 'jose';

/** The token endpoint; any URL that starts with it is one too. */
export const TOKEN_ENDPOINT = 'https://as.example/token';
export const API = 'https://api.example/things';
export const AS_NONCE = 'as-nonce-1';
export const RS_NONCE = 'rs-nonce-1';

export interface FleetServerOptions {
  /** expires_in of issued tokens (seconds); undefined: none given. Default 300. */
  life?: number | undefined;
  /** token_type of issued tokens. Default DPoP. */
  tokenType?: string;
  /** Answer every API request with 401 invalid_token for these tokens. */
  refuse?: Set<string>;
  /** Milliseconds the token endpoint takes to issue a token. Default 0. */
  tokenDelayMs?: number;
}

export interface FleetServers {
  fetch: typeof fetch;
  /** Requests to the token endpoint (nonce retries included), and tokens issued. */
  tokenRequests: number;
  issued: string[];
  /** API requests, and how many answered 200. */
  apiRequests: number;
  ok: number;
  /** Access token → the thumbprint it is bound to. */
  boundTo: Map<string, string>;
  /** The thumbprint of every key that made an API request that succeeded. */
  keysUsed: Set<string>;
  /** Every request, in order: what was asked of whom. */
  log: string[];
  reset(): void;
}

async function verified(request: Request): Promise<{ jkt: string; claims: jose.JWTPayload } | undefined> {
  const proof = request.headers.get('dpop');
  if (!proof) return undefined;
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    return { jkt: await jose.calculateJwkThumbprint(protectedHeader.jwk!), claims: payload };
  } catch {
    return undefined;
  }
}

export function fleetServers(options: FleetServerOptions = {}): FleetServers {
  const { life = 300, tokenType = 'DPoP', refuse = new Set(), tokenDelayMs = 0 } = options;
  const nonceDemand = (status: number, nonce: string) =>
    status === 400
      ? Response.json({ error: 'use_dpop_nonce' }, { status, headers: { 'dpop-nonce': nonce } })
      : new Response(null, { status, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce } });
  const self: FleetServers = {
    tokenRequests: 0,
    issued: [],
    apiRequests: 0,
    ok: 0,
    boundTo: new Map(),
    keysUsed: new Set(),
    log: [],
    reset() {
      Object.assign(self, { tokenRequests: 0, issued: [], apiRequests: 0, ok: 0, log: [] });
      self.keysUsed = new Set();
    },
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const proof = await verified(request);
      if (request.url.startsWith(TOKEN_ENDPOINT)) {
        self.tokenRequests++;
        self.log.push('token');
        if (!proof) return Response.json({ error: 'invalid_dpop_proof' }, { status: 400 });
        if (proof.claims.nonce !== AS_NONCE) return nonceDemand(400, AS_NONCE);
        if (tokenDelayMs) await new Promise((resolve) => setTimeout(resolve, tokenDelayMs));
        const token = `at-${self.issued.length + 1}-${crypto.randomUUID()}`;
        self.issued.push(token);
        self.boundTo.set(token, proof.jkt);
        const scope = new URLSearchParams(await request.text()).get('scope') ?? undefined;
        return Response.json({ access_token: token, token_type: tokenType, scope, ...(life === undefined ? {} : { expires_in: life }) }, { headers: { 'dpop-nonce': AS_NONCE } });
      }
      self.apiRequests++;
      self.log.push('api');
      const [, scheme, token] = /^(\S+) (.+)$/.exec(request.headers.get('authorization') ?? '') ?? [];
      if (scheme === 'Bearer' && token && self.boundTo.has(token)) {
        self.ok++;
        return new Response(token);
      }
      if (!proof || scheme !== 'DPoP' || !token) return new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_dpop_proof"' } });
      if (proof.claims.nonce !== RS_NONCE) return nonceDemand(401, RS_NONCE);
      if (refuse.has(token) || self.boundTo.get(token) !== proof.jkt) {
        return new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"', 'dpop-nonce': RS_NONCE } });
      }
      self.ok++;
      self.keysUsed.add(proof.jkt);
      return new Response(token, { headers: { 'dpop-nonce': RS_NONCE } });
    }) as typeof fetch,
  };
  return self;
}
