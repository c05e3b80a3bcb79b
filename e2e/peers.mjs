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
import { record, startResourceServer } from './resource-server.mjs';
// The packaged default adapter prints a "development-only" warning on every Provider; the
// factory below is the same in-memory store without it, and gives each Provider its own
// storage (the default one is shared by every Provider in the process).
// oidc-provider ships no type declarations, hence the ts-ignore here and the `any` below.
// @ts-ignore
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

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

/** @returns {Record<string, unknown>} a private JWK for oidc-provider's keystore */
function signingKey(/** @type {'ES256' | 'RS256'} */ alg) {
  const { privateKey } =
    alg === 'ES256'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomBytes(4).toString('hex')}` };
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
  const onExchange = options.onExchange;
  const counts = { token: 0, api: 0 };
  const accessTokenTTL = options.accessTokenTTL ?? 300;
  const codeFlow = options.authorizationCode;
  const asNonceMode = options.asNonce ?? 'required';
  const exposeDate = options.exposeDate === true;

  // Both servers must know each other's URL before oidc-provider can be configured (issuer,
  // resource indicator), so bind both first; the AS handler is attached afterwards, and the
  // resource server discovers the AS once it answers.
  /** @type {http.RequestListener} */
  let asHandler = (_req, res) => void res.writeHead(503).end();
  /** @type {import('./resource-server.d.mts').ResourceServer | undefined} */
  let rs;
  // With `sameOrigin`, one server answers for both, routed by path as Duende's demo is:
  // the API under /api/, everything else (token endpoint, discovery, JWKS) to oidc-provider.
  const sameOrigin = options.sameOrigin === true;
  const toRs = (/** @type {string | undefined} */ url) => url?.startsWith(API_PATH) || url?.split('?')[0] === RESOURCE_METADATA_PATH;
  const asServer = http.createServer((req, res) => (sameOrigin && rs && toRs(req.url) ? rs.handle : asHandler)(req, res));
  try {
    const asPort = await listen(asServer);
    const issuer = `http://${HOST}:${asPort}`;
    rs = await startResourceServer({
      issuer,
      origin: sameOrigin ? issuer : undefined,
      dpopAlgs,
      corsOrigins,
      rsExposeNonce: options.rsExposeNonce ?? exposeNonce,
      exposeDate,
      rsNonce: options.rsNonce,
      rsNonceRotateMs: options.rsNonceRotateMs,
      rsClockTolerance: options.rsClockTolerance,
      resourceMetadata: options.resourceMetadata,
      onExchange,
      counts,
    });
    const { resource } = rs;

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
    /** @type {{ arrived(): void, gone(): void, released: Promise<void>, outcome(value: 'dropped' | 'handled'): void } | undefined} */
    let hold;
    /** @type {http.RequestListener} */
    const handle = (req, res) => {
      if (req.method !== 'OPTIONS' && new URL(req.url ?? '/', issuer).pathname === tokenPath) {
        // A held token request waits here, before the server reads it; if its client went away
        // meanwhile (a tab closed), the server never processes it, as if it had not arrived.
        const held = hold;
        hold = undefined;
        if (held) {
          let gone = false;
          res.once('close', () => {
            if (res.writableFinished) return;
            gone = true;
            held.gone();
          });
          held.arrived();
          void held.released.then(() => {
            held.outcome(gone ? 'dropped' : 'handled');
            if (!gone) handle(req, res);
          });
          return;
        }
        counts.token++;
      }
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
    asHandler = handle;

    await rs.discover();

    return {
      issuer,
      tokenEndpoint,
      authorizationEndpoint: provider.urlFor('authorization'),
      parEndpoint: provider.urlFor('pushed_authorization_request'),
      resource,
      resourceMetadataUrl: rs.resourceMetadataUrl,
      apiUrl: rs.apiUrl,
      echoUrl: rs.echoUrl,
      clientId: 'm2m.dpop',
      clientSecret: 'secret',
      scope: 'api',
      basicClient: { clientId: 'basic.dpop', clientSecret: 'p:a+s/s&w=o?r d' },
      counts,
      resetCounts() {
        counts.token = 0;
        counts.api = 0;
      },
      holdNextToken() {
        /** @type {(value: void) => void} */
        let release = () => {};
        /** @type {(value: 'dropped' | 'handled') => void} */
        let outcome = () => {};
        /** @type {Promise<'dropped' | 'handled'>} */
        const done = new Promise((resolve) => (outcome = resolve));
        const next = { arrived: () => {}, gone: () => {}, outcome, released: new Promise((resolve) => (release = resolve)) };
        hold = next;
        return {
          arrived: new Promise((resolve) => (next.arrived = resolve)),
          gone: new Promise((resolve) => (next.gone = resolve)),
          release: () => (release(), done),
        };
      },
      rsNonce: /** @type {import('./resource-server.d.mts').ResourceServer} */ (rs).rsNonce,
      async close() {
        await Promise.all([stop(asServer), rs?.close()]);
      },
    };
  } catch (err) {
    await Promise.all([stop(asServer), rs?.close()]);
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
