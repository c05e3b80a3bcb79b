// `npm run demo`, run as a newcomer runs it (node e2e/demo.mjs on the built package, in a
// child process): it must exit 0 by itself and print the four-exchange first call, the API's
// claims and the one-exchange second call, with no credential in sight. Its decoded proofs
// are checked against what the servers printed (nonces) and with jose (thumbprints).
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, run } from './support/child.ts';
import * as jose from 'jose';



/** The demo's log, one entry per exchange: its request line, status and the lines between. */
function exchangesOf(stdout: string) {
  return [...stdout.matchAll(/^#(\d+) (\w+) (\S+)\n((?:[<>].*\n)+)/gm)].map((m) => {
    const lines = m[4]!;
    return {
      n: Number(m[1]),
      method: m[2]!,
      url: m[3]!,
      status: Number(/^< (\d{3})/m.exec(lines)?.[1]),
      nonce: /^< DPoP-Nonce: (\S+)$/m.exec(lines)?.[1],
      header: JSON.parse(/^>   proof header (.*)$/m.exec(lines)?.[1] ?? 'null'),
      claims: JSON.parse(/^>   proof claims (.*)$/m.exec(lines)?.[1] ?? 'null'),
      lines,
    };
  });
}

/** The API's answer as the demo tabulates it: `  name  value`. */
function claimOf(stdout: string, name: string): string | undefined {
  const table = stdout.split("=== The API's answer")[1]?.split('=== Call 2')[0] ?? '';
  return new RegExp(`^  ${name} +(\\S+)`, 'm').exec(table)?.[1];
}

const JWS = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

beforeAll(ensureBuilt, 120_000);

describe('npm run demo', () => {
  it('exits 0 by itself after 4 exchanges for the first call and 1 for the second, the token bound to its key', async () => {
    const { code, stdout, stderr } = await run(process.execPath, ['e2e/demo.mjs']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const exchanges = exchangesOf(stdout);
    expect(exchanges.map((e) => `${e.n} ${e.method} ${new URL(e.url).pathname} ${e.status}`)).toEqual([
      '1 POST /token 400',
      '2 POST /token 200',
      '3 GET /api/dpop/test 401',
      '4 GET /api/dpop/test 200',
      '5 GET /api/dpop/test 200',
    ]);
    expect(exchanges[0]!.lines).toContain('"error":"use_dpop_nonce"');
    expect(exchanges[2]!.lines).toMatch(/^< WWW-Authenticate: DPoP error="use_dpop_nonce"/m);
    expect(stdout).toContain('Summary: call 1 took 4 HTTP exchanges, call 2 took 1; cnf.jkt = our key');
    // The claims the API validated, cnf among them, bound to the key the demo announced.
    const announced = /client key +new P-256 key pair, thumbprint ([\w-]{43})/.exec(stdout)?.[1];
    expect(JSON.parse(claimOf(stdout, 'cnf')!).jkt).toBe(announced);
    expect(claimOf(stdout, 'client_id')).toBe('m2m.dpop');
    expect(claimOf(stdout, 'scope')).toBe('api');
    // Credentials are redacted: the form's secret, the issued token, every header that carries one.
    expect(stdout).toContain('client_secret=[redacted]');
    expect(stdout).not.toMatch(/client_secret=secret\b/);
    expect(stdout).toContain('"access_token":"[redacted]"');
    expect(stdout).toMatch(/^> Authorization: DPoP \[redacted\]$/m);
    expect(stdout).toMatch(/^> DPoP: \[redacted\]$/m);
    expect(stdout).not.toMatch(JWS);
  });

  it('--decode shows every proof: nonces the servers sent, ath with the token, the key the token is bound to', async () => {
    const { code, stdout } = await run(process.execPath, ['e2e/demo.mjs', '--decode']);
    expect(code).toBe(0);
    const [tokenFirst, tokenRetry, apiFirst, apiRetry, steady] = exchangesOf(stdout);
    for (const e of [tokenFirst, tokenRetry, apiFirst, apiRetry, steady]) {
      expect(e!.header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
      expect(Object.keys(e!.header.jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
      expect(e!.claims).toMatchObject({ htm: e!.method, htu: e!.url });
    }
    // Each retry carries the nonce the server had just sent; the first contacts carry none.
    expect(tokenFirst!.claims.nonce).toBeUndefined();
    expect(tokenRetry!.claims.nonce).toBe(tokenFirst!.nonce);
    expect(apiFirst!.claims.nonce).toBeUndefined();
    expect(apiRetry!.claims.nonce).toBe(apiFirst!.nonce);
    expect(steady!.claims.nonce).toBe(apiRetry!.nonce);
    // ath only when a token is presented; one token, so one ath.
    expect([tokenFirst, tokenRetry].map((e) => e!.claims.ath)).toEqual([undefined, undefined]);
    expect(new Set([apiFirst, apiRetry, steady].map((e) => e!.claims.ath)).size).toBe(1);
    // The API accepted the proof printed for exchange 4, and the token's cnf.jkt is its key's thumbprint.
    expect(claimOf(stdout, 'proof_jti')).toBe(apiRetry!.claims.jti);
    expect(JSON.parse(claimOf(stdout, 'cnf')!).jkt).toBe(await jose.calculateJwkThumbprint(apiRetry!.header.jwk));
    expect(stdout).not.toMatch(JWS);
  });

  it('--discover: no endpoint given; the API names its metadata, which names the authorization server: 6 exchanges, then 1', async () => {
    const { code, stdout, stderr } = await run(process.execPath, ['e2e/demo.mjs', '--discover', '--decode']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const exchanges = exchangesOf(stdout);
    expect(exchanges.map((e) => `${e.n} ${e.method} ${new URL(e.url).pathname} ${e.status}`)).toEqual([
      '1 GET /api/dpop/test 401',
      '2 GET /.well-known/oauth-protected-resource 200',
      '3 GET /.well-known/oauth-authorization-server 200',
      '4 POST /token 400',
      '5 POST /token 200',
      '6 GET /api/dpop/test 200',
      '7 GET /api/dpop/test 200',
    ]);
    const [probe, resourceDoc, asDoc, , token, call] = exchanges;
    // The request without a token carries neither a token nor a proof; its 401 names the metadata.
    expect(probe!.lines).not.toMatch(/^> (Authorization|DPoP):/m);
    expect(probe!.lines).toMatch(/^< WWW-Authenticate: DPoP algs="ES256", resource_metadata="(http:\/\/[^"]+\/\.well-known\/oauth-protected-resource)"$/m);
    expect(resourceDoc!.url).toBe(/resource_metadata="([^"]+)"/.exec(probe!.lines)![1]);
    const issuer = /"authorization_servers":\["([^"]+)"\]/.exec(resourceDoc!.lines)![1]!;
    expect(asDoc!.url).toBe(`${issuer}/.well-known/oauth-authorization-server`);
    const resource = /"resource":"([^"]+)"/.exec(resourceDoc!.lines)![1]!;
    expect(token!.lines).toContain(`resource=${encodeURIComponent(resource)}`);
    // The API's nonce came with its first answer: the call with the token needed no retry.
    expect(call!.claims.nonce).toBe(probe!.nonce);
    expect(claimOf(stdout, 'aud')).toBe(resource);
    expect(stdout).toContain('Summary: call 1 took 6 HTTP exchanges, call 2 took 1; cnf.jkt = our key');
  });

  it('refuses an unknown argument with exit 2', async () => {
    const { code, stderr } = await run(process.execPath, ['e2e/demo.mjs', '--verbose']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^demo: unknown argument --verbose; /);
  });
});
