// @ts-check
// Proves e2e/peers.mjs works, with DPoP proofs built by hand (jose), independent of the
// library under test. Run: node e2e/peers.selftest.mjs — prints PASS lines, exits non-zero
// on the first failure. Deliberately does not call process.exit on success: the process
// ending by itself is check (9), no dangling handles after close().
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { startPeers, withPeers } from './peers.mjs';

const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = await exportJWK(publicKey);
const jkt = await calculateJwkThumbprint(jwk);

/**
 * @param {string} htm
 * @param {string} htu
 * @param {{ nonce?: string, accessToken?: string }} [extra]
 */
function proof(htm, htu, { nonce, accessToken } = {}) {
  return new SignJWT({
    jti: crypto.randomUUID(),
    htm,
    htu,
    ...(nonce ? { nonce } : {}),
    ...(accessToken ? { ath: crypto.hash('sha256', accessToken, 'base64url') } : {}),
  })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
    .setIssuedAt()
    .sign(privateKey);
}

/** @param {string} name */
function pass(name) {
  console.log(`PASS ${name}`);
}

/**
 * @param {import('./peers.d.mts').Peers} peers
 * @param {Record<string, string>} params
 * @param {{ nonce?: string, headers?: Record<string, string> }} [opts]
 */
async function tokenRequest(peers, params, { nonce, headers = {} } = {}) {
  return fetch(peers.tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      dpop: await proof('POST', peers.tokenEndpoint, nonce ? { nonce } : {}),
      ...headers,
    },
    body: new URLSearchParams(params),
  });
}

/** Token request that does the AS nonce dance; returns the parsed 200 body. */
async function getToken(/** @type {import('./peers.d.mts').Peers} */ peers, /** @type {Record<string, string>} */ params, headers = {}) {
  const first = await tokenRequest(peers, params, { headers });
  const nonce = first.headers.get('dpop-nonce') ?? undefined;
  const second = await tokenRequest(peers, params, { headers, ...(nonce ? { nonce } : {}) });
  assert.equal(second.status, 200, await second.clone().text());
  return second.json();
}

/** @param {string} challenge */
const errorOf = (challenge) => /error="([^"]+)"/.exec(challenge)?.[1];
const m2m = (/** @type {import('./peers.d.mts').Peers} */ p) => ({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: p.clientSecret, scope: p.scope });

/** @type {import('./peers.d.mts').Exchange[]} */
const exchanges = [];
const peers = await startPeers({ onExchange: (e) => exchanges.push(e) });
let accessToken = '';
try {
  // (1) token endpoint: nonce demanded, then a DPoP-bound JWT.
  {
    const first = await tokenRequest(peers, m2m(peers));
    assert.equal(first.status, 400);
    assert.equal((await first.json()).error, 'use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    assert.ok(nonce, 'AS sends DPoP-Nonce');
    const second = await tokenRequest(peers, m2m(peers), { nonce });
    assert.equal(second.status, 200);
    const body = await second.json();
    assert.equal(body.token_type, 'DPoP');
    accessToken = body.access_token;
    const claims = decodeJwt(accessToken);
    assert.deepEqual(claims.cnf, { jkt });
    assert.equal(claims.aud, peers.resource);
    assert.equal(claims.iss, peers.issuer);
    pass(`(1) token endpoint: 400 use_dpop_nonce, then 200 token_type DPoP with cnf.jkt=${jkt}`);
  }

  // (2) resource server: its own nonce, then the claims.
  let okProof = '';
  {
    const first = await fetch(peers.apiUrl, {
      headers: { authorization: `DPoP ${accessToken}`, dpop: await proof('GET', peers.apiUrl, { accessToken }) },
    });
    assert.equal(first.status, 401);
    const challenge = first.headers.get('www-authenticate') ?? '';
    assert.equal(challenge, 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256"');
    const nonce = first.headers.get('dpop-nonce');
    assert.equal(nonce, peers.rsNonce());
    okProof = await proof('GET', peers.apiUrl, { accessToken, nonce: nonce ?? '' });
    const second = await fetch(peers.apiUrl, { headers: { authorization: `DPoP ${accessToken}`, dpop: okProof } });
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('dpop-nonce'), nonce, 'nonce on 200 too');
    /** @type {{ type: string, value: string }[]} */
    const list = await second.json();
    const get = (/** @type {string} */ t) => list.find((c) => c.type === t)?.value;
    assert.deepEqual(JSON.parse(get('cnf') ?? ''), { jkt });
    assert.equal(get('authorization_scheme'), 'DPoP');
    assert.equal(get('proof_jti'), decodeJwt(okProof).jti);
    assert.equal(get('iss'), peers.issuer);
    pass('(2) resource server: 401 use_dpop_nonce + DPoP-Nonce, then 200 with claims incl. cnf');
  }

  // (3) replayed proof.
  {
    const replay = await fetch(peers.apiUrl, { headers: { authorization: `DPoP ${accessToken}`, dpop: okProof } });
    assert.equal(replay.status, 401);
    assert.equal(errorOf(replay.headers.get('www-authenticate') ?? ''), 'invalid_dpop_proof');
    pass('(3) replayed proof jti: 401 invalid_dpop_proof');
  }

  // (4) counts.
  {
    assert.deepEqual({ ...peers.counts }, { token: 2, api: 3 });
    assert.equal(exchanges.length, 5, 'onExchange saw exactly the client traffic (no internal discovery/JWKS)');
    const tokenLog = exchanges[0];
    assert.ok(tokenLog && tokenLog.server === 'as' && tokenLog.requestBody.includes('grant_type=client_credentials'));
    assert.ok(tokenLog.responseBody.includes('use_dpop_nonce') && typeof tokenLog.responseHeaders['dpop-nonce'] === 'string');
    peers.resetCounts();
    assert.deepEqual({ ...peers.counts }, { token: 0, api: 0 });
    pass('(4) counts token 2, api 3; resetCounts(); onExchange logged 5 exchanges with bodies');
  }

  // (5) client_secret_basic with a secret that needs form-urlencoding (RFC 6749 §2.3.1).
  {
    const { clientId, clientSecret } = peers.basicClient;
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${new URLSearchParams({ s: clientSecret }).toString().slice(2)}`).toString('base64');
    const body = await getToken(peers, { grant_type: 'client_credentials', scope: 'api' }, { authorization: `Basic ${basic}` });
    assert.equal(body.token_type, 'DPoP');
    assert.equal(decodeJwt(body.access_token).client_id, clientId);
    pass(`(5) client_secret_basic with secret ${JSON.stringify(clientSecret)}: 200`);
  }

  // (6) wrong secret.
  {
    const params = { ...m2m(peers), client_secret: 'wrong' };
    const first = await tokenRequest(peers, params);
    const nonce = first.headers.get('dpop-nonce') ?? undefined;
    const res = await tokenRequest(peers, params, nonce ? { nonce } : {});
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, 'invalid_client');
    pass('(6) wrong client secret: 401 invalid_client');
  }

  // Echo: bodies arrive intact and the RS sees the real URL (query included in htu checks).
  {
    const url = `${peers.echoUrl}?a=1&b=%20`;
    const payload = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    const send = async (/** @type {string | undefined} */ nonce) =>
      fetch(url, {
        method: 'PUT',
        headers: { authorization: `DPoP ${accessToken}`, 'content-type': 'application/octet-stream', dpop: await proof('PUT', url, { accessToken, ...(nonce ? { nonce } : {}) }) },
        body: payload,
      });
    const res = await send(peers.rsNonce());
    assert.equal(res.status, 200);
    const echo = await res.json();
    assert.equal(echo.method, 'PUT');
    assert.equal(echo.contentType, 'application/octet-stream');
    assert.equal(echo.url, '/api/echo?a=1&b=%20');
    assert.equal(echo.bodyBase64, payload.toString('base64'));
    pass('(extra) /api/echo returns method, content-type and exact body bytes');
  }

  // Expired / foreign tokens are invalid_token, not invalid_dpop_proof.
  {
    const forged = `${accessToken.slice(0, -4)}AAAA`;
    const res = await fetch(peers.apiUrl, {
      headers: { authorization: `DPoP ${forged}`, dpop: await proof('GET', peers.apiUrl, { accessToken: forged, nonce: peers.rsNonce() }) },
    });
    assert.equal(res.status, 401);
    assert.equal(errorOf(res.headers.get('www-authenticate') ?? ''), 'invalid_token');
    const wrongHtu = await fetch(peers.apiUrl, {
      headers: { authorization: `DPoP ${accessToken}`, dpop: await proof('GET', peers.echoUrl, { accessToken, nonce: peers.rsNonce() }) },
    });
    assert.equal(errorOf(wrongHtu.headers.get('www-authenticate') ?? ''), 'invalid_dpop_proof');
    pass('(extra) bad signature → invalid_token; wrong htu → invalid_dpop_proof');
  }
} finally {
  await peers.close();
}

// (7) rsNonce 'always': even the freshly given nonce is refused.
await withPeers({ rsNonce: 'always' }, async (p) => {
  const { access_token: token } = await getToken(p, m2m(p));
  const first = await fetch(p.apiUrl, { headers: { authorization: `DPoP ${token}`, dpop: await proof('GET', p.apiUrl, { accessToken: token }) } });
  assert.equal(first.status, 401);
  const nonce = first.headers.get('dpop-nonce') ?? '';
  const retry = await fetch(p.apiUrl, { headers: { authorization: `DPoP ${token}`, dpop: await proof('GET', p.apiUrl, { accessToken: token, nonce }) } });
  assert.equal(retry.status, 401);
  assert.equal(errorOf(retry.headers.get('www-authenticate') ?? ''), 'use_dpop_nonce');
  assert.notEqual(retry.headers.get('dpop-nonce'), nonce);
  assert.equal(p.counts.api, 2);
  pass('(7) rsNonce "always": retry with the given nonce still gets 401 use_dpop_nonce');
});

// (8) accessTokenTTL, and the RS rejects the token as soon as it expires (no 30 s tolerance).
await withPeers({ accessTokenTTL: 2 }, async (p) => {
  const { access_token: token, expires_in } = await getToken(p, m2m(p));
  const { exp = 0, iat = 0 } = decodeJwt(token);
  assert.equal(exp - iat, 2);
  assert.equal(expires_in, 2);
  await new Promise((r) => setTimeout(r, (exp + 1) * 1000 - Date.now()));
  const res = await fetch(p.apiUrl, { headers: { authorization: `DPoP ${token}`, dpop: await proof('GET', p.apiUrl, { accessToken: token, nonce: p.rsNonce() }) } });
  assert.equal(res.status, 401);
  assert.equal(errorOf(res.headers.get('www-authenticate') ?? ''), 'invalid_token');
  pass('(8) accessTokenTTL 2: exp - iat = 2; expired token → 401 invalid_token');
});

// CORS: preflights are answered but not counted; exposeNonce:false hides DPoP-Nonce on both.
for (const exposeNonce of [true, false]) {
  const origin = 'http://127.0.0.1:9';
  await withPeers({ corsOrigins: [origin], exposeNonce }, async (p) => {
    const pre = await fetch(p.apiUrl, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization, dpop' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), origin);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /DPoP/);
    assert.equal(p.counts.api, 0);
    const tok = await tokenRequest(p, m2m(p), { headers: { origin } });
    assert.equal(tok.headers.get('access-control-allow-origin'), origin);
    const asExpose = (tok.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    assert.equal(asExpose.includes('dpop-nonce'), exposeNonce, asExpose);
    assert.ok(asExpose.includes('www-authenticate'));
    const api = await fetch(p.apiUrl, { headers: { origin } });
    assert.equal(api.headers.get('access-control-allow-origin'), origin);
    assert.equal((api.headers.get('access-control-expose-headers') ?? '').toLowerCase().includes('dpop-nonce'), exposeNonce);
    const foreign = await tokenRequest(p, m2m(p), { headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    pass(`(extra) CORS exposeNonce=${exposeNonce}: AS expose "${asExpose}", RS preflight 204 not counted, foreign origin refused`);
  });
}

// (9) close() resolved above; if any socket or timer were left, node would not exit here.
// The watchdog is unref'd, so it only fires if something else keeps the process alive.
pass('(9) close() resolved for every instance; the process now exits on its own');
setTimeout(() => {
  console.error('FAIL (9) process still alive 5 s after close(): dangling handles', process.getActiveResourcesInfo());
  process.exit(1);
}, 5000).unref();
process.on('exit', (code) => {
  if (code === 0) console.log('PASS process exited by itself');
});
