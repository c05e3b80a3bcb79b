// @ts-check
/**
 * A second authorization server family for the end-to-end tests: Glewlwyd (Debian's
 * `glewlwyd` package, a C implementation), with the oauth4webapi resource server of
 * `e2e/resource-server.mjs` in front. Nothing is shared with oidc-provider but the RS.
 *
 * `startGlewlwyd()` makes a fresh sqlite database from the package's own SQL, writes a config,
 * starts `glewlwyd` on 127.0.0.1 on a free port, and configures it through its admin API:
 * - the OIDC plugin with DPoP allowed, nonces mandatory and rotated every 10 uses (per client:
 *   Glewlwyd keeps one nonce per client_id), ES256 JWT access tokens (RFC 9068) whose `aud` is
 *   the resource server (RFC 8707), PKCE (S256 only), refresh tokens, Glewlwyd's default `iat`
 *   leeway (none into the future);
 * - a confidential client (or several) allowed client_credentials, authorization_code and
 *   refresh_token, with client_secret_post or client_secret_basic;
 * - a user who can log in with a password and grant the client the scope `api`.
 *
 * The server runs as a child of a `sh` watchdog that kills it when this process's end of the
 * watchdog's stdin closes, so it stops even if the test process dies; `close()` stops it by PID.
 *
 * Facts about Glewlwyd 2.7.5 that this file works with (found by running it):
 * - `external_url` must have no trailing slash: the `htu` it expects is external_url +
 *   "/api/<plugin>/token", so a slash there makes every proof's htu wrong;
 * - its JWKS drops a leading zero byte of an EC coordinate (a 31-byte `x` or `y`), which
 *   WebCrypto refuses to import; the signing key is generated again until neither coordinate
 *   starts with 0x00;
 * - a refused proof is a 403 `invalid_dpop_proof`, a nonce demand a 400 `use_dpop_nonce`;
 * - the nonce changes on a successful answer (every 10th use here), sent in `DPoP-Nonce`;
 * - on sqlite, concurrent token requests now and then fail with a 500: the DPoP `jti` insert
 *   takes no lock, so it races with the access token's insert and sqlite's last-insert id
 *   (one connection for all threads) points the token's scopes at the wrong row. Load tests
 *   keep one token request at a time per server;
 * - consent is a grant through `PUT /api/auth/grant/{client_id}` in the user's session, and
 *   the authorization request needs `g_continue` to go on without showing a page.
 *
 * Node-only, no build step: plain ESM with JSDoc types (see glewlwyd.d.mts).
 */
import { spawn, execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { HOST } from './loopback.mjs';
import { startResourceServer } from './resource-server.mjs';

const SQL = '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz';
const MODULES = '/usr/lib/glewlwyd';
const PLUGIN = 'oidc';
const ADMIN = { username: 'admin', password: 'password' }; // what the package's SQL creates
const USER = { username: 'alice', password: crypto.randomBytes(12).toString('base64url') };
const CLIENT_ID = 'dpop-fetch';
const SCOPE = 'api';
const START_TIMEOUT_MS = 15_000;
const LOG_LIMIT = 64 * 1024;

/** Whether `glewlwyd` and `sqlite3` are installed (`.ci/run` installs both). */
export function glewlwydInstalled() {
  try {
    execFileSync('sh', ['-c', 'command -v glewlwyd && command -v sqlite3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The installed version, e.g. "2.7.5". */
export function glewlwydVersion() {
  const text = execFileSync('glewlwyd', ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return /Version (\S+)/.exec(text)?.[1] ?? 'unknown';
}

/** A port nobody listens on right now (Glewlwyd cannot be told to pick one itself). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** An ES256 private JWK whose coordinates both start with a non-zero byte (see the top of this file). */
function signingJwk() {
  for (;;) {
    const jwk = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const leadingZero = [jwk.x, jwk.y].some((c) => Buffer.from(/** @type {string} */ (c), 'base64url')[0] === 0);
    if (!leadingZero) return { ...jwk, kid: `es256-${crypto.randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' };
  }
}

/** @param {number} port @param {string} dir */
function config(port, dir) {
  return `port=${port}
bind_address="${HOST}"
external_url="http://${HOST}:${port}"
login_url="login.html"
api_prefix="api"
allow_origin="*"
log_mode="console"
log_level="${process.env.GLEWLWYD_LOG_LEVEL ?? 'WARNING'}"
cookie_secure=0
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
user_module_path="${MODULES}/user"
client_module_path="${MODULES}/client"
user_auth_scheme_module_path="${MODULES}/scheme"
plugin_module_path="${MODULES}/plugin"
hash_algorithm="SHA512"
database =
{
  type = "sqlite3"
  path = "${join(dir, 'glewlwyd.sqlite')}"
};
`;
}

/**
 * A minimal cookie-keeping HTTP client for the admin API and the user's browser session.
 * @param {string} base
 */
function session(base) {
  /** @type {Map<string, string>} */
  const cookies = new Map();
  /**
   * @param {string} method @param {string} path @param {unknown} [body]
   * @returns {Promise<Response>}
   */
  return async (method, path, body) => {
    const headers = new Headers();
    if (cookies.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    if (body !== undefined) headers.set('content-type', 'application/json');
    const response = await fetch(new URL(path, base), { method, headers, body: body === undefined ? null : JSON.stringify(body), redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = /** @type {string} */ (pair).indexOf('=');
      cookies.set(/** @type {string} */ (pair).slice(0, eq).trim(), /** @type {string} */ (pair).slice(eq + 1).trim());
    }
    return response;
  };
}

/**
 * @param {ReturnType<typeof session>} http
 * @param {string} method @param {string} path @param {unknown} [body]
 */
async function must(http, method, path, body) {
  const response = await http(method, path, body);
  const text = await response.text();
  if (!response.ok) throw new Error(`glewlwyd: ${method} ${path} answered ${response.status} ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * Starts the server process and waits until it answers; a port taken in the meantime is
 * tried again with another.
 * @param {string} dir
 * @param {(text: string) => void} log
 */
async function launch(dir, log) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const file = join(dir, 'glewlwyd.conf');
    await writeFile(file, config(port, dir));
    // The watchdog: glewlwyd in the background, then wait for stdin to close (our close(), or
    // this process dying), then stop it and remove its database. Its first line is the PID.
    const watchdog = spawn('sh', ['-c', 'glewlwyd -c "$1" & pid=$!; echo "$pid"; cat >/dev/null; kill "$pid" 2>/dev/null; wait "$pid"; rm -rf "$2"', 'sh', file, dir], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    /** @type {number | undefined} */
    let pid;
    const pidKnown = new Promise((resolve) => {
      let first = '';
      watchdog.stdout.on('data', (chunk) => {
        if (pid === undefined) {
          first += chunk;
          const nl = first.indexOf('\n');
          if (nl === -1) return;
          pid = Number(first.slice(0, nl));
          resolve(pid);
          log(first.slice(nl + 1));
        } else log(String(chunk));
      });
    });
    watchdog.stderr.on('data', (chunk) => log(String(chunk)));
    const exited = new Promise((resolve) => watchdog.once('exit', resolve));
    await Promise.race([pidKnown, exited]);
    const base = `http://${HOST}:${port}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    let up = false;
    while (!up && Date.now() < deadline && watchdog.exitCode === null) {
      up = await fetch(`${base}/config`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    const stopIt = async () => {
      if (watchdog.exitCode !== null || watchdog.signalCode !== null) return;
      watchdog.stdin.end();
      const timer = setTimeout(() => {
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
        watchdog.kill('SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    };
    if (up) return { port, base, pid: /** @type {number} */ (pid), stop: stopIt };
    await stopIt();
    if (attempt === 3) throw new Error(`glewlwyd did not start on 127.0.0.1 (3 attempts)`);
  }
}

/**
 * Starts Glewlwyd and the resource server, configured as described at the top of this file.
 * @param {import('./glewlwyd.d.mts').GlewlwydOptions} [options]
 * @returns {Promise<import('./glewlwyd.d.mts').Glewlwyd>}
 */
export async function startGlewlwyd(options = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'glewlwyd-'));
  let logText = '';
  const log = (/** @type {string} */ text) => {
    logText = (logText + text).slice(-LOG_LIMIT);
  };
  /** @type {Awaited<ReturnType<typeof launch>> | undefined} */
  let server;
  /** @type {import('./resource-server.d.mts').ResourceServer | undefined} */
  let rs;
  const close = async () => {
    await Promise.all([server?.stop(), rs?.close()]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // The package's SQL: core tables, the modules' tables, and the user `admin`.
    // WAL: a throwaway database need not wait for the disk on every token it stores.
    const sql = Buffer.concat([gunzipSync(await readFile(SQL)), Buffer.from('\nPRAGMA journal_mode=WAL;\n')]);
    execFileSync('sqlite3', [join(dir, 'glewlwyd.sqlite')], { input: sql, stdio: ['pipe', 'ignore', 'pipe'] });
    server = await launch(dir, log);
    const { base } = server;
    const issuer = `${base}/api/${PLUGIN}`;
    rs = await startResourceServer({ issuer, ...options.resourceServer });
    const redirectUri = options.redirectUri ?? 'http://127.0.0.1:9/callback';

    const admin = session(base);
    await must(admin, 'POST', '/api/auth/', ADMIN);
    await must(admin, 'POST', '/api/scope/', { name: SCOPE, display_name: 'API', description: 'The resource server', password_required: false, scheme: {} });
    await must(admin, 'POST', '/api/mod/plugin/', {
      module: 'oidc',
      name: PLUGIN,
      display_name: 'OpenID Connect',
      parameters: {
        iss: issuer,
        'jwks-private': JSON.stringify({ keys: [signingJwk()] }),
        'jwks-show': true,
        'access-token-duration': options.accessTokenTTL ?? 300,
        'refresh-token-duration': 3600,
        'code-duration': 60,
        'refresh-token-rolling': true,
        'refresh-token-one-use': 'always', // a new refresh token with every refresh (rotation)
        'allow-non-oidc': true,
        'oauth-as-iss-id': true,
        'auth-type-code-enabled': true,
        'auth-type-client-enabled': true,
        'auth-type-refresh-enabled': true,
        'auth-type-token-enabled': false,
        'auth-type-id-token-enabled': false,
        'auth-type-device-enabled': false,
        'auth-type-password-enabled': false,
        'pkce-allowed': true,
        'pkce-method-plain-allowed': false,
        'resource-allowed': true,
        // private_key_jwt: a client's public keys are its `jwks` property; without
        // request-parameter-allow, Glewlwyd answers every client assertion with an empty 403.
        'request-parameter-allow': true,
        'client-jwks-parameter': 'jwks',
        'resource-scope': { [SCOPE]: [rs.resource] },
        'oauth-dpop-allowed': true,
        'oauth-dpop-iat-duration': 60,
        'oauth-dpop-nonce-mandatory': true,
        'oauth-dpop-nonce-counter': options.nonceCounter ?? 10,
        ...options.pluginParameters,
      },
    });
    // Clients `dpop-fetch`, `dpop-fetch-2`, …: Glewlwyd keeps one DPoP nonce per client.
    const clients = Array.from({ length: options.clients ?? 1 }, (_, i) => ({
      clientId: i ? `${CLIENT_ID}-${i + 1}` : CLIENT_ID,
      clientSecret: crypto.randomBytes(18).toString('base64url'),
    }));
    for (const { clientId, clientSecret } of clients) {
      await must(admin, 'POST', '/api/client/', {
        client_id: clientId,
        name: 'dpop-fetch tests',
        confidential: true,
        client_secret: clientSecret,
        // Without it a confidential client may not authenticate at all.
        token_endpoint_auth_method: ['client_secret_post', 'client_secret_basic'],
        authorization_type: ['code', 'client_credentials', 'refresh_token'],
        redirect_uri: [redirectUri],
        scope: [SCOPE],
        enabled: true,
      });
    }
    for (const extra of options.extraClients ?? []) await must(admin, 'POST', '/api/client/', { enabled: true, scope: [SCOPE], redirect_uri: [redirectUri], ...extra });
    await must(admin, 'POST', '/api/user/', { username: USER.username, password: USER.password, name: 'Alice', scope: [SCOPE, 'g_profile'], enabled: true });
    await rs.discover();

    const up = server;
    return {
      version: glewlwydVersion(),
      issuer,
      tokenEndpoint: `${issuer}/token`,
      authorizationEndpoint: `${issuer}/auth`,
      clientId: CLIENT_ID,
      clientSecret: /** @type {{ clientSecret: string }} */ (clients[0]).clientSecret,
      clients,
      redirectUri,
      scope: SCOPE,
      resource: rs.resource,
      apiUrl: rs.apiUrl,
      echoUrl: rs.echoUrl,
      rs,
      pid: up.pid,
      username: USER.username,
      async authorize(url) {
        // The user's browser: log in, grant the client its scope, then the authorization
        // request with g_continue, which answers with the redirect to the client.
        const browser = session(base);
        await must(browser, 'POST', '/api/auth/', USER);
        const scope = new URL(url).searchParams.get('scope') ?? SCOPE;
        await must(browser, 'PUT', `/api/auth/grant/${encodeURIComponent(CLIENT_ID)}`, { scope });
        const target = new URL(url);
        target.searchParams.set('g_continue', '');
        const response = await browser('GET', target.href);
        const location = response.headers.get('location');
        await response.body?.cancel();
        if (response.status !== 302 || !location) throw new Error(`glewlwyd: the authorization request answered ${response.status} without a redirect`);
        return new URL(location, target).href;
      },
      log: () => logText,
      close,
    };
  } catch (err) {
    await close();
    if (err instanceof Error) err.message += logText ? `\nglewlwyd's log:\n${logText.slice(-4000)}` : '';
    throw err;
  }
}

/**
 * Starts Glewlwyd, runs `fn`, and always stops it, even when `fn` throws.
 * @template T
 * @param {import('./glewlwyd.d.mts').GlewlwydOptions} options
 * @param {(glewlwyd: import('./glewlwyd.d.mts').Glewlwyd) => T | Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withGlewlwyd(options, fn) {
  const glewlwyd = await startGlewlwyd(options);
  try {
    return await fn(glewlwyd);
  } finally {
    await glewlwyd.close();
  }
}
