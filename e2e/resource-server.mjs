// @ts-check
/**
 * The resource server of the end-to-end tests: a DPoP-protected API that validates JWT access
 * tokens from any issuer with oauth4webapi's `validateJwtAccessToken` (RFC 9068 + RFC 9449),
 * finds the issuer's keys by discovery, demands its own DPoP nonce and refuses replayed proofs.
 * It listens on 127.0.0.1 port 0. `e2e/peers.mjs` puts it behind oidc-provider, and
 * `e2e/glewlwyd.mjs` behind Glewlwyd.
 *
 * Also here: {@link record}, the wire log both kinds of peer keep for session logs.
 *
 * Node-only, no build step: plain ESM with JSDoc types (see resource-server.d.mts).
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as oauth from 'oauth4webapi';
import { EmbeddedJWK, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { listen, HOST, stop } from './loopback.mjs';

/** The resource's RFC 9728 metadata, at the well-known URL for its identifier (`/`). */
const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';
const REQUEST_LOG_LIMIT = 2048;
const RESPONSE_LOG_LIMIT = 4096;
const SEEN_JTI_LIMIT = 10_000;
/** Marks the RS's own discovery/JWKS fetches so they stay out of counts and exchange logs. */
export const INTERNAL = 'x-peers-internal';

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
export function record(server, origin, req, res, onExchange) {
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

/**
 * Starts the API. The issuer's metadata is fetched on the first request that needs it (or by
 * `discover()`), so the RS can listen before its authorization server is configured; a failed
 * discovery is tried again on the next request.
 * @param {import('./resource-server.d.mts').ResourceServerOptions} options
 * @returns {Promise<import('./resource-server.d.mts').ResourceServer>}
 */
export async function startResourceServer(options) {
  const { issuer, onExchange, corsOrigins } = options;
  const dpopAlgs = options.dpopAlgs ?? ['ES256'];
  const exposeDate = options.exposeDate === true;
  const rsExposeNonce = options.rsExposeNonce !== false;
  const rsNonceMode = options.rsNonce ?? 'required';
  const counts = options.counts ?? { api: 0 };

  /** @type {http.RequestListener} */
  let handler = (_req, res) => void res.writeHead(503).end();
  // Its own server, unless the caller serves it on an origin of its own (`origin`, see `handle`).
  const server = options.origin ? undefined : http.createServer((req, res) => handler(req, res));
  const rsOrigin = server ? `http://${HOST}:${await listen(server)}` : /** @type {string} */ (options.origin);
  const resource = `${rsOrigin}/`;

  /** @type {oauth.HttpRequestOptions<'GET'> & { [oauth.customFetch]: typeof fetch }} */
  const internal = {
    [oauth.allowInsecureRequests]: true,
    [oauth.customFetch]: (url, init) => {
      const headers = new Headers(init?.headers);
      headers.set(INTERNAL, '1');
      return fetch(url, /** @type {RequestInit} */ ({ ...init, headers }));
    },
  };
  /** @type {Promise<oauth.AuthorizationServer> | undefined} */
  let metadata;
  const discover = () => {
    if (metadata) return metadata;
    const url = new URL(issuer);
    const pending = (metadata = oauth.discoveryRequest(url, internal).then((response) => oauth.processDiscoveryResponse(url, response)));
    pending.catch(() => {
      if (metadata === pending) metadata = undefined;
    });
    return pending;
  };
  /** @type {oauth.ValidateJWTAccessTokenOptions} */
  const validateOptions = {
    ...internal,
    requireDPoP: true,
    // Access-token JWT algs (ES256 by default) plus whatever proofs may use.
    signingAlgorithms: [...new Set([...(options.accessTokenAlgs ?? ['ES256']), ...dpopAlgs])],
    // oauth4webapi tolerates 30 s past `exp` by default; tests of expiry and renewal with
    // 1-2 s tokens need the RS to reject an expired token straight away.
    [oauth.clockTolerance]: options.rsClockTolerance ?? 0,
  };

  // RFC 9728: the resource's own metadata, named in the challenge to a request without
  // credentials unless `resourceMetadata: 'well-known'`.
  const resourceMetadataUrl = `${rsOrigin}${RESOURCE_METADATA_PATH}`;
  const resourceMetadata = {
    resource,
    authorization_servers: [issuer],
    scopes_supported: ['api'],
    bearer_methods_supported: ['header'],
    dpop_signing_alg_values_supported: dpopAlgs,
    dpop_bound_access_tokens_required: true,
  };
  const resourceMetadataMode = options.resourceMetadata ?? 'challenge';

  const rotateMs = options.rsNonceRotateMs;
  let nonce = crypto.randomBytes(16).toString('base64url');
  let nonceAt = Date.now();
  // As servers that rotate do (oidc-provider keeps the previous nonce too): the nonce replaced
  // by a rotation is still taken from a proof made right after it was handed out, so a retry
  // that crosses a rotation is not refused. One handed out over `rotateMs` ago is stale.
  let servedAt = Date.now();
  let previous = { nonce: '', servedAt: -Infinity };
  const currentNonce = () => {
    if (rotateMs !== undefined && Date.now() - nonceAt >= rotateMs) {
      previous = { nonce, servedAt };
      nonce = crypto.randomBytes(16).toString('base64url');
      nonceAt = Date.now();
    }
    return nonce;
  };
  const serveNonce = () => {
    const served = currentNonce();
    servedAt = Date.now();
    return served;
  };
  const acceptsNonce = (/** @type {unknown} */ given) => given === currentNonce() || (rotateMs !== undefined && given === previous.nonce && Date.now() - previous.servedAt < rotateMs);
  /** Insertion-ordered, so the oldest jti is the first one dropped once over the limit. */
  const seenJtis = new Set();
  const algsParam = `algs=${quoted(dpopAlgs.join(' '))}`;

  /** @param {http.IncomingMessage} req */
  const isAllowedOrigin = (req) => !!corsOrigins && typeof req.headers.origin === 'string' && corsOrigins.includes(req.headers.origin);

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
      ...(rsNonceMode === 'never' ? {} : { 'dpop-nonce': serveNonce() }),
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
      claims = await oauth.validateJwtAccessToken(await discover(), request, resource, validateOptions);
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
    if (rsNonceMode === 'required' && !acceptsNonce(proofNonce)) {
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

  handler = (req, res) => {
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

  return {
    origin: rsOrigin,
    resource,
    resourceMetadataUrl,
    apiUrl: `${resource}api/dpop/test`,
    echoUrl: `${resource}api/echo`,
    counts,
    rsNonce: () => currentNonce(),
    discover: async () => void (await discover()),
    handle: (req, res) => handler(req, res),
    close: async () => {
      if (server) await stop(server);
    },
  };
}
