// @ts-check
/**
 * Real peers for end-to-end tests: an OAuth 2.0 authorization server (oidc-provider) that
 * issues DPoP-bound JWT access tokens via client_credentials, and a resource server that
 * validates them with oauth4webapi and demands its own DPoP nonce. Both listen on
 * 127.0.0.1 port 0 inside the calling process, so vitest, Playwright setup, demos and
 * benchmarks all talk to the same thing without any network access or fixed ports.
 *
 * Node-only, no build step: plain ESM with JSDoc types (see peers.d.mts).
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { HOST, listen, stop } from './loopback.mjs';
import * as oauth from 'oauth4webapi';
import { EmbeddedJWK, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
// The packaged default adapter prints a "development-only" warning on every Provider; the
// factory below is the same in-memory store without it, and gives each Provider its own
// storage (the default one is shared by every Provider in the process).
// oidc-provider ships no type declarations, hence the ts-ignore here and the `any` below.
// @ts-ignore
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

const REQUEST_LOG_LIMIT = 2048;
const RESPONSE_LOG_LIMIT = 4096;
const SEEN_JTI_LIMIT = 10_000;
/** Marks the RS's own discovery/JWKS fetches so they stay out of counts and exchange logs. */
const INTERNAL = 'x-peers-internal';

/**
 * oidc-provider warns at import time that Node 20 is an "unsupported runtime" (it wants
 * 22+); it works fine here, and the warning would pollute every test run and demo log.
 * Importing lazily lets us mute exactly that one line, once.
 * @type {Promise<any> | undefined}
 */
let providerModule;
function loadProvider() {
  providerModule ??= (async () => {
    const warn = console.warn;
    console.warn = (/** @type {unknown[]} */ ...args) => {
      if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
      warn.apply(console, args);
    };
    try {
      // @ts-ignore
      return await import('oidc-provider');
    } finally {
      console.warn = warn;
    }
  })();
  return providerModule;
}

/** @param {Buffer} buf @param {number} limit */
function clip(buf, limit) {
  const text = buf.subarray(0, limit).toString('utf8');
  return buf.length > limit ? `${text}…[${buf.length - limit} more bytes]` : text;
}

/** @param {http.OutgoingHttpHeaders} headers @returns {Record<string, string | string[]>} */
function plainHeaders(headers) {
  /** @type {Record<string, string | string[]>} */
  const out = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

/**
 * Records what went over the wire on one exchange and reports it once the response is done.
 * Response bytes are captured by wrapping write/end. Request bytes are captured by wrapping
 * the IncomingMessage's push(), which is how the HTTP parser hands body chunks to the
 * stream: this observes the body without consuming it, so oidc-provider's own body parser
 * still reads the untouched stream (buffering and re-feeding would trip its "already parsed
 * body" fallback). The 'request' event fires before any body chunk is pushed, so nothing is
 * missed; a body the server never reads is logged as empty.
 * @param {'as' | 'rs'} server
 * @param {string} origin
 * @param {http.IncomingMessage} req
 * @param {http.ServerResponse} res
 * @param {((entry: import('./peers.d.mts').Exchange) => void) | undefined} onExchange
 */
function record(server, origin, req, res, onExchange) {
  if (!onExchange || req.headers[INTERNAL]) return;
  /** @type {Buffer[]} */
  const requestChunks = [];
  /** @type {Buffer[]} */
  const responseChunks = [];
  const push = req.push;
  req.push = function (/** @type {any} */ chunk, /** @type {BufferEncoding | undefined} */ encoding) {
    if (chunk != null) requestChunks.push(Buffer.from(chunk, encoding));
    return push.call(req, chunk, encoding);
  };
  /** @param {unknown} chunk @param {unknown} encoding */
  const keep = (chunk, encoding) => {
    if (chunk == null || typeof chunk === 'function') return;
    responseChunks.push(
      typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? /** @type {BufferEncoding} */ (encoding) : 'utf8') : Buffer.from(/** @type {Uint8Array} */ (chunk)),
    );
  };
  const write = res.write;
  const end = res.end;
  res.write = /** @type {typeof res.write} */ (function (/** @type {any[]} */ ...args) {
    keep(args[0], args[1]);
    return write.apply(res, /** @type {any} */ (args));
  });
  res.end = /** @type {typeof res.end} */ (function (/** @type {any[]} */ ...args) {
    keep(args[0], args[1]);
    return end.apply(res, /** @type {any} */ (args));
  });
  res.once('finish', () => {
    try {
      onExchange({
        server,
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', origin).href,
        requestHeaders: plainHeaders(req.headers),
        requestBody: clip(Buffer.concat(requestChunks), REQUEST_LOG_LIMIT),
        status: res.statusCode,
        responseHeaders: plainHeaders(res.getHeaders()),
        responseBody: clip(Buffer.concat(responseChunks), RESPONSE_LOG_LIMIT),
      });
    } catch (err) {
      // A broken logger must not take the server down mid-test; surface it loudly instead.
      console.error('peers: onExchange threw', err);
    }
  });
}

/** @returns {Record<string, unknown>} a private JWK for oidc-provider's keystore */
function signingKey(/** @type {'ES256' | 'RS256'} */ alg) {
  const { privateKey } =
    alg === 'ES256'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomBytes(4).toString('hex')}` };
}

/** @param {string} value */
const quoted = (value) => `"${value.replace(/["\\]/g, "'").replace(/[\r\n]+/g, ' ')}"`;

/**
 * The oauth4webapi error says what failed but not whose fault it was (token or proof), and
 * the RS must answer invalid_token vs invalid_dpop_proof accordingly. So after a failure we
 * re-check just the proof, independently, with jose: if the proof is bad it is the culprit.
 * @param {Request} request
 * @param {string[]} algs
 * @returns {Promise<string | undefined>} what is wrong with the proof, if anything
 */
async function proofProblem(request, algs) {
  const proof = request.headers.get('dpop');
  if (!proof) return 'missing DPoP proof';
  if (proof.includes(',')) return 'multiple DPoP proofs';
  const token = request.headers.get('authorization')?.split(/ +/)[1] ?? '';
  try {
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: algs });
    if (typeof payload.jti !== 'string' || !payload.jti) return 'DPoP proof jti missing';
    if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > 300) return 'DPoP proof iat not recent enough';
    if (payload.htm !== request.method) return 'DPoP proof htm mismatch';
    const strip = (/** @type {string} */ u) => Object.assign(new URL(u), { search: '', hash: '' }).href;
    if (typeof payload.htu !== 'string' || strip(payload.htu) !== strip(request.url)) return 'DPoP proof htu mismatch';
    if (payload.ath !== crypto.hash('sha256', token, 'base64url')) return 'DPoP proof ath mismatch';
    let jkt;
    try {
      jkt = /** @type {{ cnf?: { jkt?: unknown } }} */ (decodeJwt(token)).cnf?.jkt;
    } catch {
      return undefined; // an undecodable token is the token's problem
    }
    if (jkt !== undefined && jkt !== (await calculateJwkThumbprint(/** @type {import('jose').JWK} */ (protectedHeader.jwk)))) {
      return 'DPoP proof key does not match the access token cnf.jkt';
    }
    return undefined;
  } catch (err) {
    return `invalid DPoP proof: ${/** @type {Error} */ (err).message}`;
  }
}

const INTERACTION_PATH = '/interaction/';
/** Where the resource server's API lives; with `sameOrigin`, the path prefix routed to it. */
const API_PATH = '/api/';
/** The resource server's RFC 9728 metadata (routed to it with `sameOrigin` too). */
const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/**
 * Provider configuration for the authorization code grant (option `authorizationCode`): an
 * interaction URL served by {@link finishInteraction}, refresh tokens for every client allowed
 * the refresh_token grant (bound to the DPoP key for public clients), and rotation on use.
 * @param {NonNullable<import('./peers.d.mts').PeersOptions['authorizationCode']>} codeFlow
 * @param {number} accessTokenTTL
 */
function codeFlowConfig(codeFlow, accessTokenTTL) {
  const ttl = (/** @type {number} */ seconds) => () => seconds;
  return {
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    interactions: { url: (/** @type {unknown} */ _ctx, /** @type {{ uid: string }} */ interaction) => `${INTERACTION_PATH}${interaction.uid}` },
    findAccount: (/** @type {unknown} */ _ctx, /** @type {string} */ accountId) => ({ accountId, claims: () => ({ sub: accountId }) }),
    issueRefreshToken: (/** @type {unknown} */ _ctx, /** @type {{ grantTypeAllowed(type: string): boolean }} */ client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => codeFlow.rotateRefreshTokens !== false,
    ttl: {
      ClientCredentials: (/** @type {unknown} */ _ctx, /** @type {{ resourceServer?: { accessTokenTTL?: number } }} */ token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL,
      AccessToken: (/** @type {unknown} */ _ctx, /** @type {{ resourceServer?: { accessTokenTTL?: number } }} */ token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL,
      AuthorizationCode: ttl(60),
      RefreshToken: ttl(24 * 3600),
      Grant: ttl(24 * 3600),
      Interaction: ttl(600),
      Session: ttl(24 * 3600),
      IdToken: ttl(3600),
    },
  };
}

/**
 * The login and consent pages of a real AS, reduced to what a test needs: whoever arrives is
 * `accountId`, and every scope and resource asked for is granted. Login and consent are two
 * interactions, as oidc-provider runs them.
 * @param {any} provider
 * @param {http.IncomingMessage} req
 * @param {http.ServerResponse} res
 * @param {string} accountId
 */
async function finishInteraction(provider, req, res, accountId) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, /** @type {string[]} */ (scopes).join(' '));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/**
 * @param {import('./peers.d.mts').PeersOptions} [options]
 * @returns {Promise<import('./peers.d.mts').Peers>}
 */
export async function startPeers(options = {}) {
  const { Provider, errors } = await loadProvider();
  const dpopAlgs = options.dpopAlgs ?? ['ES256'];
  const corsOrigins = options.corsOrigins;
  const exposeNonce = options.exposeNonce !== false;
  const rsExposeNonce = options.rsExposeNonce ?? exposeNonce;
  const rsNonceMode = options.rsNonce ?? 'required';
  const onExchange = options.onExchange;
  const counts = { token: 0, api: 0 };
  const accessTokenTTL = options.accessTokenTTL ?? 300;
  const codeFlow = options.authorizationCode;
  const asNonceMode = options.asNonce ?? 'required';
  const exposeDate = options.exposeDate === true;
  const resourceMetadataMode = options.resourceMetadata ?? 'challenge';

  // Both servers must know each other's URL before oidc-provider can be configured (issuer,
  // resource indicator), so bind both first and attach handlers afterwards.
  /** @type {http.RequestListener} */
  let asHandler = (_req, res) => void res.writeHead(503).end();
  /** @type {http.RequestListener} */
  let rsHandler = asHandler;
  // With `sameOrigin`, one server answers for both, routed by path as Duende's demo is:
  // the API under /api/, everything else (token endpoint, discovery, JWKS) to oidc-provider.
  const sameOrigin = options.sameOrigin === true;
  const toRs = (/** @type {string | undefined} */ url) => url?.startsWith(API_PATH) || url?.split('?')[0] === RESOURCE_METADATA_PATH;
  const asServer = http.createServer((req, res) => (sameOrigin && toRs(req.url) ? rsHandler : asHandler)(req, res));
  const rsServer = sameOrigin ? asServer : http.createServer((req, res) => rsHandler(req, res));
  try {
    const [asPort, rsPort] = sameOrigin ? await listen(asServer).then((port) => [port, port]) : await Promise.all([listen(asServer), listen(rsServer)]);
    const issuer = `http://${HOST}:${asPort}`;
    const rsOrigin = `http://${HOST}:${rsPort}`;
    const resource = `${rsOrigin}/`;

    const provider = new Provider(issuer, {
      adapter: createMemoryAdapter(),
      jwks: { keys: [signingKey('ES256'), signingKey('RS256')] },
      clients: [
        {
          client_id: 'm2m.dpop',
          client_secret: 'secret',
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_post',
          scope: 'api',
        },
        {
          client_id: 'basic.dpop',
          client_secret: 'p:a+s/s&w=o?r d',
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_basic',
          scope: 'api',
        },
        ...(options.clients ?? []),
      ],
      scopes: ['api'],
      // Same as the default, which however prints a "you SHOULD change it" notice on first use.
      ttl: { ClientCredentials: (/** @type {unknown} */ _ctx, /** @type {{ resourceServer?: { accessTokenTTL?: number } }} */ token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL },
      enabledJWA: { dPoPSigningAlgValues: dpopAlgs },
      ...(codeFlow ? codeFlowConfig(codeFlow, accessTokenTTL) : {}),
      // Only the token endpoint is client-checked; discovery/JWKS are open CORS anyway.
      clientBasedCORS: (/** @type {unknown} */ _ctx, /** @type {string} */ origin) => !!corsOrigins?.includes(origin),
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        ...(options.requirePar ? { pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true } } : {}),
        dPoP: asNonceMode === 'never' ? { enabled: true } : { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true },
        ...(options.fapi2Clients ? { fapi: { enabled: true, profile: (/** @type {unknown} */ _ctx, /** @type {{ clientId: string } | undefined} */ client) => (client && options.fapi2Clients?.includes(client.clientId) ? '2.0' : undefined) } } : {}),
        resourceIndicators: {
          enabled: true,
          defaultResource: (/** @type {unknown} */ _ctx, /** @type {unknown} */ _client, /** @type {string | string[] | undefined} */ oneOf) => oneOf ?? resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (/** @type {unknown} */ _ctx, /** @type {string} */ indicator) => {
            if (indicator !== resource) throw new errors.InvalidTarget();
            return {
              scope: 'api',
              audience: resource,
              accessTokenTTL,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'ES256' } },
            };
          },
        },
      },
    });

    // oidc-provider already answers token-endpoint CORS itself (preflight for any origin,
    // `Access-Control-Expose-Headers: DPoP-Nonce,WWW-Authenticate` once a nonceSecret is set,
    // clientBasedCORS on the real request). The only thing to add is the misconfiguration
    // under test: a server that forgets to expose DPoP-Nonce.
    if (!exposeNonce) {
      provider.use(async (/** @type {any} */ ctx, /** @type {() => Promise<void>} */ next) => {
        await next();
        /** @type {string} */
        const exposed = ctx.response.get('Access-Control-Expose-Headers');
        if (exposed) {
          const kept = exposed.split(',').map((h) => h.trim()).filter((h) => h && h.toLowerCase() !== 'dpop-nonce');
          if (kept.length) ctx.set('Access-Control-Expose-Headers', kept.join(', '));
          else ctx.remove('Access-Control-Expose-Headers');
        }
      });
    }

    // `Date` is not a CORS-safelisted response header: a page reads the server's clock only
    // when the server exposes it.
    if (exposeDate) {
      provider.use(async (/** @type {any} */ ctx, /** @type {() => Promise<void>} */ next) => {
        await next();
        /** @type {string} */
        const exposed = ctx.response.get('Access-Control-Expose-Headers');
        if (ctx.response.get('Access-Control-Allow-Origin')) ctx.set('Access-Control-Expose-Headers', exposed ? `${exposed}, Date` : 'Date');
      });
    }

    const tokenEndpoint = provider.urlFor('token');
    const tokenPath = new URL(tokenEndpoint).pathname;
    const providerCallback = provider.callback();
    asHandler = (req, res) => {
      if (req.method !== 'OPTIONS' && new URL(req.url ?? '/', issuer).pathname === tokenPath) counts.token++;
      record('as', issuer, req, res, onExchange);
      if (codeFlow && new URL(req.url ?? '/', issuer).pathname.startsWith(INTERACTION_PATH)) {
        finishInteraction(provider, req, res, codeFlow.accountId ?? 'alice').catch((err) => {
          console.error('peers: interaction error', err);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('interaction error');
        });
        return;
      }
      providerCallback(req, res);
    };

    // --- resource server -------------------------------------------------------------
    /** @type {oauth.HttpRequestOptions<'GET'> & { [oauth.customFetch]: typeof fetch }} */
    const internal = {
      [oauth.allowInsecureRequests]: true,
      [oauth.customFetch]: (url, init) => {
        const headers = new Headers(init?.headers);
        headers.set(INTERNAL, '1');
        return fetch(url, /** @type {RequestInit} */ ({ ...init, headers }));
      },
    };
    const as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), internal));
    /** @type {oauth.ValidateJWTAccessTokenOptions} */
    const validateOptions = {
      ...internal,
      requireDPoP: true,
      // Access-token JWT alg (ES256, fixed above) plus whatever proofs may use.
      signingAlgorithms: [...new Set(['ES256', ...dpopAlgs])],
      // oauth4webapi tolerates 30 s past `exp` by default; tests of expiry and renewal with
      // 1-2 s tokens need the RS to reject an expired token straight away.
      [oauth.clockTolerance]: options.rsClockTolerance ?? 0,
    };

    // RFC 9728: the resource's own metadata, at the well-known URL for its identifier (`/`), named
    // in the challenge to a request without credentials unless `resourceMetadata: 'well-known'`.
    const resourceMetadataUrl = `${rsOrigin}${RESOURCE_METADATA_PATH}`;
    const resourceMetadata = {
      resource,
      authorization_servers: [issuer],
      scopes_supported: ['api'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: dpopAlgs,
      dpop_bound_access_tokens_required: true,
    };

    const rotateMs = options.rsNonceRotateMs;
    let nonce = crypto.randomBytes(16).toString('base64url');
    let nonceAt = Date.now();
    const currentNonce = () => {
      if (rotateMs !== undefined && Date.now() - nonceAt >= rotateMs) {
        nonce = crypto.randomBytes(16).toString('base64url');
        nonceAt = Date.now();
      }
      return nonce;
    };
    /** Insertion-ordered, so the oldest jti is the first one dropped once over the limit. */
    const seenJtis = new Set();
    const algsParam = `algs=${quoted(dpopAlgs.join(' '))}`;

    /** @param {http.IncomingMessage} req */
    const isAllowedOrigin = (req) => !!corsOrigins && typeof req.headers.origin === 'string' && corsOrigins.includes(req.headers.origin);

    rsHandler = (req, res) => {
      const preflight = req.method === 'OPTIONS';
      if (!preflight) counts.api++;
      record('rs', rsOrigin, req, res, onExchange);
      if (isAllowedOrigin(req)) {
        res.setHeader('Access-Control-Allow-Origin', /** @type {string} */ (req.headers.origin));
        res.setHeader('Access-Control-Expose-Headers', `${rsExposeNonce ? 'DPoP-Nonce, WWW-Authenticate' : 'WWW-Authenticate'}${exposeDate ? ', Date' : ''}`);
      }
      res.setHeader('Vary', 'Origin');
      if (preflight) {
        if (isAllowedOrigin(req) && req.headers['access-control-request-method']) {
          res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE');
          res.setHeader('Access-Control-Allow-Headers', 'Authorization, DPoP, Content-Type');
        }
        res.writeHead(204).end();
        return;
      }
      /** @type {Buffer[]} */
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        serveApi(req, res, Buffer.concat(chunks)).catch((err) => {
          console.error('peers: resource server error', err);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error');
        });
      });
    };

    /**
     * @param {http.ServerResponse} res
     * @param {number} status
     * @param {unknown} body
     * @param {Record<string, string>} [headers]
     */
    const reply = (res, status, body, headers = {}) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        // Every response carries the current nonce, so a client can pick it up early.
        ...(rsNonceMode === 'never' ? {} : { 'dpop-nonce': currentNonce() }),
        ...headers,
      });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    /**
     * @param {http.ServerResponse} res
     * @param {string | undefined} error
     * @param {string} [description]
     */
    const challenge = (res, error, description) => {
      const params = error
        ? [`error=${quoted(error)}`, `error_description=${quoted(description ?? error)}`, algsParam]
        : [algsParam, ...(resourceMetadataMode === 'challenge' ? [`resource_metadata=${quoted(resourceMetadataUrl)}`] : [])];
      reply(res, 401, error ? { error, error_description: description } : undefined, { 'www-authenticate': `DPoP ${params.join(', ')}` });
    };

    /**
     * @param {http.IncomingMessage} req
     * @param {http.ServerResponse} res
     * @param {Buffer} body
     */
    const serveApi = async (req, res, body) => {
      const url = new URL(req.url ?? '/', rsOrigin);
      if (url.pathname === RESOURCE_METADATA_PATH && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
        res.end(JSON.stringify(resourceMetadata));
        return;
      }
      if (url.pathname !== '/api/dpop/test' && url.pathname !== '/api/echo') {
        reply(res, 404, { error: 'not_found' });
        return;
      }
      const headers = new Headers();
      for (const [name, values] of Object.entries(req.headersDistinct)) {
        for (const value of values ?? []) headers.append(name, value);
      }
      const method = req.method ?? 'GET';
      const request = new Request(url, { method, headers, body: method === 'GET' || method === 'HEAD' ? null : new Uint8Array(body) });

      if (!request.headers.has('authorization')) {
        challenge(res, undefined); // RFC 6750 §3.1: no error code when no credentials at all
        return;
      }
      /** @type {oauth.JWTAccessTokenClaims} */
      let claims;
      try {
        claims = await oauth.validateJwtAccessToken(as, request, resource, validateOptions);
      } catch (err) {
        const problem = await proofProblem(request, dpopAlgs);
        if (problem) challenge(res, 'invalid_dpop_proof', problem);
        else challenge(res, 'invalid_token', /** @type {Error} */ (err).message);
        return;
      }
      const proof = /** @type {string} */ (request.headers.get('dpop'));
      if (!dpopAlgs.includes(/** @type {string} */ (decodeProtectedHeader(proof).alg))) {
        challenge(res, 'invalid_dpop_proof', 'DPoP proof alg not allowed');
        return;
      }
      const { jti, nonce: proofNonce } = decodeJwt(proof);
      if (seenJtis.has(jti)) {
        challenge(res, 'invalid_dpop_proof', 'DPoP proof jti replayed');
        return;
      }
      seenJtis.add(jti);
      if (seenJtis.size > SEEN_JTI_LIMIT) seenJtis.delete(seenJtis.values().next().value);

      if (rsNonceMode === 'always') {
        // A fresh demand every time: whatever nonce the client sends is already stale.
        nonce = crypto.randomBytes(16).toString('base64url');
        nonceAt = Date.now();
        challenge(res, 'use_dpop_nonce', 'Resource server requires nonce in DPoP proof');
        return;
      }
      if (rsNonceMode === 'required' && proofNonce !== currentNonce()) {
        challenge(res, 'use_dpop_nonce', 'Resource server requires nonce in DPoP proof');
        return;
      }

      // Shaped like Duende's demo API: every claim value a string, arrays flattened.
      /** @type {{ type: string, value: string }[]} */
      const list = [];
      for (const [type, value] of Object.entries(claims)) {
        for (const v of Array.isArray(value) ? value : [value]) {
          list.push({ type, value: typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v) });
        }
      }
      list.push({ type: 'authorization_scheme', value: 'DPoP' }, { type: 'proof_jti', value: String(jti) });

      if (url.pathname === '/api/echo') {
        reply(res, 200, {
          method,
          url: url.pathname + url.search,
          contentType: req.headers['content-type'] ?? null,
          bodyBase64: body.toString('base64'),
          bodyLength: body.length,
          claims: list,
        });
      } else {
        reply(res, 200, list);
      }
    };

    return {
      issuer,
      tokenEndpoint,
      authorizationEndpoint: provider.urlFor('authorization'),
      parEndpoint: provider.urlFor('pushed_authorization_request'),
      resource,
      resourceMetadataUrl,
      apiUrl: `${resource}api/dpop/test`,
      echoUrl: `${resource}api/echo`,
      clientId: 'm2m.dpop',
      clientSecret: 'secret',
      scope: 'api',
      basicClient: { clientId: 'basic.dpop', clientSecret: 'p:a+s/s&w=o?r d' },
      counts,
      resetCounts() {
        counts.token = 0;
        counts.api = 0;
      },
      rsNonce: () => currentNonce(),
      async close() {
        await Promise.all([stop(asServer), rsServer !== asServer && stop(rsServer)]);
      },
    };
  } catch (err) {
    await Promise.all([stop(asServer), rsServer !== asServer && stop(rsServer)]);
    throw err;
  }
}

/**
 * Starts the peers, runs `fn`, and always closes them, even when `fn` throws.
 * @template T
 * @param {import('./peers.d.mts').PeersOptions} options
 * @param {(peers: import('./peers.d.mts').Peers) => T | Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withPeers(options, fn) {
  const peers = await startPeers(options);
  try {
    return await fn(peers);
  } finally {
    await peers.close();
  }
}
