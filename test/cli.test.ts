// The dpop-fetch command, run as a user runs it: `node dist/cli/main.js …` (and once through
// Deno, and once installed from `npm pack` as `npx dpop-fetch`) in child processes, against
// real peers started here: oidc-provider issues the tokens, an oauth4webapi resource server
// judges them. Keys and thumbprints are checked with node:crypto and jose, never our code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, root, run, type Result } from './support/child.ts';
import * as jose from 'jose';
import { startPeers, type Exchange, type Peers } from '../e2e/peers.mjs';

const CLI = join(root, 'dist/cli/main.js');

const cli = (args: string[], options?: Parameters<typeof run>[2]) => run(process.execPath, [CLI, ...args], options);

/** RFC 7638 thumbprint of a private key file's public key, by node:crypto and jose alone. */
async function thumbprintOf(key: string | KeyObject): Promise<string> {
  const publicKey = createPublicKey(typeof key === 'string' ? createPrivateKey(key) : key);
  return jose.calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as jose.JWK, 'sha256');
}

/** The `cnf.jkt` of the claims list the resource server answers with. */
function answeredJkt(stdout: string): string {
  const claims = JSON.parse(stdout) as { type: string; value: string }[];
  return JSON.parse(claims.find((c) => c.type === 'cnf')!.value).jkt;
}

const dir = mkdtempSync(join(tmpdir(), 'dpop-fetch-cli-'));
const file = (name: string) => join(dir, name);
let peers: Peers;
const exchanges: Exchange[] = [];
/** Access tokens the authorization server issued since `mark`, decoded by jose. */
const issued = (mark: number) =>
  exchanges.slice(mark).filter((e) => e.server === 'as' && e.status === 200).map((e) => (JSON.parse(e.responseBody) as { access_token: string }).access_token);

// A client that authenticates with private_key_jwt (RFC 7523): its key is registered here.
const clientKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const JWT_CLIENT = 'jwt.dpop';
// And RSA clients, registered for RS256 and PS256 with one RSA key.
const rsaClientKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

beforeAll(async () => {
  await ensureBuilt();
  // Key files every test may use, made by node:crypto: the DPoP key, another one, an RSA key.
  const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' });
  writeFileSync(file('key.pem'), pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey));
  writeFileSync(file('other.pem'), pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey));
  writeFileSync(file('rsa.pem'), pkcs8(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey));
  writeFileSync(file('client-key.pem'), pkcs8(clientKey.privateKey));
  writeFileSync(file('rsa-client-key.pem'), rsaClientKey.privateKey.export({ type: 'pkcs1', format: 'pem' })); // BEGIN RSA PRIVATE KEY
  peers = await startPeers({
    onExchange: (e) => exchanges.push(e),
    clients: [
      {
        client_id: JWT_CLIENT,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [{ ...clientKey.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] },
        scope: 'api',
      },
      ...['RS256', 'PS256'].map((alg) => ({
        client_id: `jwt.${alg}`,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: alg,
        jwks: { keys: [{ ...rsaClientKey.publicKey.export({ format: 'jwk' }), kid: 'r1', use: 'sig' }] },
        scope: 'api',
      })),
    ],
  });
}, 120_000);
afterAll(async () => {
  await peers?.close();
  rmSync(dir, { recursive: true, force: true });
});

const tokenFlags = () => ['--token-endpoint', peers.tokenEndpoint, '--client-id', peers.clientId, '--client-secret', peers.clientSecret, '--scope', 'api'];
/** Asserts a failure: the exit code, exactly one line on stderr that matches, and no stack trace. */
function expectOneLine(result: Result, code: number, pattern: RegExp): string {
  expect(result.code).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^dpop-fetch: [^;]+; .+/);
  expect(lines[0]).toMatch(pattern);
  return lines[0]!;
}

/** Runs each case at once and checks each with {@link expectOneLine}. */
async function expectAll(code: number, cases: [string[], RegExp, Record<string, string>?][]): Promise<void> {
  const results = await Promise.all(cases.map(([args, , env]) => cli(args, { env })));
  cases.forEach(([, pattern], i) => expectOneLine(results[i]!, code, pattern));
}

describe('dpop-fetch keygen and thumbprint', () => {
  it('keygen --out writes a P-256 PKCS#8 PEM with mode 0600 and prints its RFC 7638 thumbprint', async () => {
    const result = await cli(['keygen', '--out', file('keygen.pem')]);
    expect(result.code).toBe(0);
    const pem = readFileSync(file('keygen.pem'), 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END PRIVATE KEY-----\n$/);
    const key = createPrivateKey(pem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(statSync(file('keygen.pem')).mode & 0o777).toBe(0o600);
    expect(result.stdout).toBe(`${await thumbprintOf(pem)}\n`);

    const again = await cli(['thumbprint', '--key', file('keygen.pem')]);
    expect(again).toMatchObject({ code: 0, stdout: result.stdout });
  });

  it('keygen refuses to overwrite a file, and leaves it as it was', async () => {
    writeFileSync(file('taken.pem'), 'precious');
    expectOneLine(await cli(['keygen', '--out', file('taken.pem')]), 1, /already exists/);
    expect(readFileSync(file('taken.pem'), 'utf8')).toBe('precious');
  });

  it('keygen without --out prints the PEM on stdout and the thumbprint on stderr', async () => {
    const result = await cli(['keygen']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`thumbprint: ${await thumbprintOf(result.stdout)}\n`);
  });

  it('thumbprint reads SEC1 PEM, DER and JWK key files, and names what is wrong with others', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const expected = `${await thumbprintOf(privateKey)}\n`;
    writeFileSync(file('sec1.pem'), privateKey.export({ type: 'sec1', format: 'pem' }));
    writeFileSync(file('key.der'), privateKey.export({ type: 'pkcs8', format: 'der' }));
    writeFileSync(file('key.jwk'), JSON.stringify(privateKey.export({ format: 'jwk' })));
    for (const name of ['sec1.pem', 'key.der', 'key.jwk']) {
      expect(await cli(['thumbprint', '--key', file(name)])).toMatchObject({ code: 0, stdout: expected });
    }
    writeFileSync(file('p384.pem'), generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expectOneLine(await cli(['thumbprint', '--key', file('p384.pem')]), 1, /P-384, not P-256/);
    expectOneLine(await cli(['thumbprint']), 2, /needs --key/);
  });
});

describe('dpop-fetch <url> against oidc-provider and an oauth4webapi resource server', () => {
  it('calls the API with the key from --key: the token is bound to the thumbprint keygen printed', async () => {
    const printed = (await cli(['keygen', '--out', file('call.pem')])).stdout.trim();
    expect(printed).toBe(await thumbprintOf(readFileSync(file('call.pem'), 'utf8')));
    const mark = exchanges.length;
    const result = await cli([...tokenFlags(), '--key', file('call.pem'), peers.apiUrl]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(answeredJkt(result.stdout)).toBe(printed);
    const [token] = issued(mark);
    expect((jose.decodeJwt(token!).cnf as { jkt: string }).jkt).toBe(printed);
    // Token endpoint: nonce demand, token; API: nonce demand, answer.
    expect(exchanges.slice(mark).map((e) => `${e.server} ${e.status}`)).toEqual(['as 400', 'as 200', 'rs 401', 'rs 200']);
  });

  it('-v logs every exchange to stderr with the secret, the token and the proofs redacted', async () => {
    const mark = exchanges.length;
    const result = await cli([...tokenFlags(), '--key', file('key.pem'), '-v', peers.apiUrl]);
    expect(result.code).toBe(0);
    const [token] = issued(mark);
    const log = result.stderr;
    expect([...log.matchAll(/^#(\d) (\w+) (\S+)$/gm)].map((m) => `${m[2]} ${m[3]}`)).toEqual([
      `POST ${peers.tokenEndpoint}`,
      `POST ${peers.tokenEndpoint}`,
      `GET ${peers.apiUrl}`,
      `GET ${peers.apiUrl}`,
    ]);
    expect([...log.matchAll(/^< (\d{3})/gm)].map((m) => m[1])).toEqual(['400', '200', '401', '200']);
    expect(log).toContain('client_secret=[redacted]');
    expect(log).toContain('"access_token":"[redacted]"');
    expect(log).toContain('> Authorization: DPoP [redacted]');
    expect(log).toMatch(/\* DPoP key from --key ".*key\.pem", thumbprint [\w-]{43}\n/);
    expect(log).toContain('the resource server demanded a DPoP nonce');
    expect(log).not.toContain(token!);
    expect(log).not.toMatch(/client_secret=secret\b/);
    expect(log).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/); // no JWS at all: token or proof
  });

  it('--decode prints each proof header and claims, never a signature; the jwk is the key in use', async () => {
    const result = await cli([...tokenFlags(), '--key', file('key.pem'), '--decode', peers.apiUrl]);
    expect(result.code).toBe(0);
    const headers = [...result.stderr.matchAll(/^>   proof header (.*)$/gm)].map((m) => JSON.parse(m[1]!));
    const claims = [...result.stderr.matchAll(/^>   proof claims (.*)$/gm)].map((m) => JSON.parse(m[1]!));
    expect(headers).toHaveLength(4);
    const expected = await thumbprintOf(readFileSync(file('key.pem'), 'utf8'));
    for (const header of headers) expect(await jose.calculateJwkThumbprint(header.jwk)).toBe(expected);
    expect(claims.map((c) => c.htm)).toEqual(['POST', 'POST', 'GET', 'GET']);
    expect(claims.map((c) => c.ath === undefined)).toEqual([true, true, false, false]);
    expect(result.stderr).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  });

  it('takes its settings from DPOP_* variables, and flags win over them', async () => {
    const env = {
      DPOP_TOKEN_ENDPOINT: peers.tokenEndpoint,
      DPOP_CLIENT_ID: peers.clientId,
      DPOP_CLIENT_SECRET: 'not-the-secret',
      DPOP_SCOPE: 'api',
      DPOP_KEY: file('key.pem'),
    };
    const expected = await thumbprintOf(readFileSync(file('key.pem'), 'utf8'));
    const wrong = await cli([peers.apiUrl], { env });
    expectOneLine(wrong, 1, /invalid_client/);
    const right = await cli(['--client-secret', peers.clientSecret, peers.apiUrl], { env });
    expect(right.code).toBe(0);
    expect(answeredJkt(right.stdout)).toBe(expected);
  });

  it('sends -X, -H and -d @file bytes unchanged, and -i prints the status line and headers first', async () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
    writeFileSync(file('body.bin'), bytes);
    const result = await cli([...tokenFlags(), '-i', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '-d', `@${file('body.bin')}`, peers.echoUrl]);
    expect(result.code).toBe(0);
    const [head, body] = result.stdout.split('\n\n') as [string, string];
    expect(head).toMatch(/^HTTP 200 OK\n/);
    expect(head).toMatch(/^DPoP-Nonce: \S+$/m);
    const echo = JSON.parse(body) as { method: string; contentType: string; bodyBase64: string };
    expect(echo.method).toBe('PUT');
    expect(echo.contentType).toBe('application/octet-stream');
    expect(Buffer.from(echo.bodyBase64, 'base64')).toEqual(Buffer.from(bytes));
  });

  it('-d without -X is a form POST; repeated -d are joined with &; -d @- reads stdin', async () => {
    const joined = JSON.parse((await cli([...tokenFlags(), '-d', 'a=1', '-d', 'b=2', peers.echoUrl])).stdout);
    expect(joined).toMatchObject({ method: 'POST', contentType: 'application/x-www-form-urlencoded' });
    expect(Buffer.from(joined.bodyBase64, 'base64').toString()).toBe('a=1&b=2');
    const piped = JSON.parse((await cli([...tokenFlags(), '-H', 'content-type: text/plain', '-d', '@-', peers.echoUrl], { input: 'from stdin\n' })).stdout);
    expect(Buffer.from(piped.bodyBase64, 'base64').toString()).toBe('from stdin\n');
  });

  it('without --key uses an ephemeral key, says so under -v, and the token is bound to it', async () => {
    const result = await cli([...tokenFlags(), '--decode', peers.apiUrl]);
    expect(result.code).toBe(0);
    const said = /\* no --key given: using an ephemeral P-256 key for this run only, thumbprint ([\w-]{43});/.exec(result.stderr)?.[1];
    const jwk = JSON.parse(/^>   proof header (.*)$/m.exec(result.stderr)![1]!).jwk;
    expect(said).toBe(await jose.calculateJwkThumbprint(jwk));
    expect(answeredJkt(result.stdout)).toBe(said);
  });

  it('client_secret_basic sends a secret with : + / & = ? and spaces, and never logs it', async () => {
    const { clientId, clientSecret } = peers.basicClient;
    const result = await cli(['--token-endpoint', peers.tokenEndpoint, '--client-id', clientId, '--auth-method', 'client_secret_basic', '--scope', 'api', '-v', peers.apiUrl], {
      env: { DPOP_CLIENT_SECRET: clientSecret },
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('> Authorization: Basic [redacted]');
    for (const form of [clientSecret, encodeURIComponent(clientSecret), Buffer.from(`${clientId}:`).toString('base64').slice(0, 8)]) {
      expect(result.stderr).not.toContain(form);
    }
  });

  it('private_key_jwt signs a client assertion with --client-key; a key the server does not know is refused', async () => {
    const flags = ['--token-endpoint', peers.tokenEndpoint, '--client-id', JWT_CLIENT, '--auth-method', 'private_key_jwt', '--client-key-id', 'k1', '--scope', 'api'];
    const mark = exchanges.length;
    const ok = await cli([...flags, '--client-key', file('client-key.pem'), peers.apiUrl]);
    expect(ok.code).toBe(0);
    const assertion = new URLSearchParams(exchanges.slice(mark).find((e) => e.server === 'as' && e.status === 200)!.requestBody).get('client_assertion')!;
    await jose.jwtVerify(assertion, clientKey.publicKey, { issuer: JWT_CLIENT, subject: JWT_CLIENT });
    expectOneLine(await cli([...flags, '--client-key', file('key.pem'), peers.apiUrl]), 1, /invalid_client/);
  });

  it('private_key_jwt with an RSA --client-key (PKCS#1 PEM): RS256 by default, PS256 with --client-key-alg; a wrong algorithm is refused, saying what to check', async () => {
    const flags = (client: string) => ['--token-endpoint', peers.tokenEndpoint, '--client-id', client, '--client-key', file('rsa-client-key.pem'), '--client-key-id', 'r1', '--scope', 'api'];
    for (const [alg, extra] of [['RS256', []], ['PS256', ['--client-key-alg', 'PS256']]] as const) {
      const mark = exchanges.length;
      const ok = await cli([...flags(`jwt.${alg}`), ...extra, peers.apiUrl]);
      expect(ok.code, ok.stderr).toBe(0);
      const assertion = new URLSearchParams(exchanges.slice(mark).find((e) => e.server === 'as' && e.status === 200)!.requestBody).get('client_assertion')!;
      expect((await jose.jwtVerify(assertion, rsaClientKey.publicKey, { algorithms: [alg], issuer: `jwt.${alg}` })).protectedHeader).toMatchObject({ alg, kid: 'r1' });
    }
    // The PS256 client given RS256 assertions (the default): oidc-provider refuses them.
    expectOneLine(await cli([...flags('jwt.PS256'), peers.apiUrl]), 1, /invalid_client .*HTTP 401; the server must have the public key of --client-key registered \(with --client-key-id\) for its algorithm \(--client-key-alg\)/);
    expectOneLine(await cli([...flags('jwt.RS256'), '--client-key-alg', 'ES256', peers.apiUrl]), 1, /^dpop-fetch: cannot use the client key ".*rsa-client-key.pem" \(--client-key\): an RSA key cannot sign ES256; use alg RS256 or PS256/);
    expectOneLine(await cli([...flags('jwt.RS256'), '--client-key-alg', 'HS256', peers.apiUrl]), 2, /^dpop-fetch: --client-key-alg must be one of "ES256", "RS256"/);
  });

  it('without --token-endpoint adds a matching proof to the token given in -H Authorization', async () => {
    // A token bound to key.pem, obtained with jose alone: the CLI only adds proofs here.
    const pem = readFileSync(file('key.pem'), 'utf8');
    const key = createPrivateKey(pem);
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    let nonce: string | undefined;
    let token: string | undefined;
    for (let attempt = 0; attempt < 2 && !token; attempt++) {
      const proof = await new jose.SignJWT({ htm: 'POST', htu: peers.tokenEndpoint, ...(nonce ? { nonce } : {}) })
        .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
        .setIssuedAt()
        .setJti(randomUUID())
        .sign(key);
      const res = await fetch(peers.tokenEndpoint, {
        method: 'POST',
        headers: { dpop: proof },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: peers.clientId, client_secret: peers.clientSecret, scope: 'api' }),
      });
      nonce = res.headers.get('dpop-nonce') ?? undefined;
      token = res.ok ? ((await res.json()) as { access_token: string }).access_token : (await res.body?.cancel(), undefined);
    }
    const ok = await cli(['--key', file('key.pem'), '-H', `Authorization: DPoP ${token}`, peers.apiUrl]);
    expect(ok.code).toBe(0);
    expect(answeredJkt(ok.stdout)).toBe(await thumbprintOf(pem));
    // Another key's proof does not match the token's cnf.jkt: the API says so, and so do we.
    const other = await cli(['--key', file('other.pem'), '-H', `Authorization: DPoP ${token}`, peers.apiUrl]);
    const line = expectOneLine(other, 1, /answered HTTP 401 Unauthorized \(invalid_dpop_proof: .*cnf\.jkt\); the API refused the DPoP proof/);
    expect(line).not.toContain(token!);
  });
});

describe('dpop-fetch mistakes and failures: one line, the right exit code, no stack, no secret', () => {
  it('an unknown flag is a usage error with a suggestion', async () => {
    const result = await cli(['--tokn-endpoint', 'x', 'https://api.example/']);
    expectOneLine(result, 2, /unknown option --tokn-endpoint; did you mean --token-endpoint\?/);
    expect(result.stdout).toBe('');
  });

  it('a missing URL, a flag without its value, a second URL and a stray flag are usage errors', async () => {
    await expectAll(2, [
      [[], /no URL given/],
      [['-v'], /no URL given/],
      [['https://api.example/', '--key'], /--key needs a value/],
      [['https://a.example/', 'https://b.example/'], /one URL at a time/],
      [['keygen', '-X', 'POST'], /-X does not apply to dpop-fetch keygen/],
      [['ftp://api.example/'], /not an absolute http: or https: URL/],
      [['-H', 'no colon', 'https://api.example/'], /-H "no colon" is not a header; write it as 'Name: value'/],
      [['-X', 'GE T', 'https://api.example/'], /-X "GE T" is not an HTTP method/],
      [['-m', 'soon', 'https://api.example/'], /-m "soon" is not a number of seconds/],
    ]);
  });

  it('settings that do not fit together, or that the library refuses, name the flag or the variable', async () => {
    await expectAll(2, [
      [['--token-endpoint', 'https://as.example/token', 'https://api.example/'], /--token-endpoint needs --client-id/],
      [['--client-id', 'x', 'https://api.example/'], /--client-id needs --token-endpoint/],
      [['--token-endpoint', 'http://as.example/token', '--client-id', 'x', 'https://api.example/'], /^dpop-fetch: --token-endpoint must be an https: URL/],
      [['https://api.example/'], /^dpop-fetch: DPOP_TOKEN_ENDPOINT must be an https: URL/, { DPOP_TOKEN_ENDPOINT: 'http://as.example/token', DPOP_CLIENT_ID: 'x' }],
      [[...tokenFlags(), '--auth-method', 'magic', peers.apiUrl], /--auth-method must be one of "client_secret_post"/],
      [[...tokenFlags(), '-H', 'Authorization: DPoP abc', peers.apiUrl], /-H Authorization cannot be combined with --token-endpoint/],
    ]);
  });

  it('encrypted keys: the password from DPOP_KEY_PASSWORD or the first line of --key-password-file (DPOP_CLIENT_KEY_PASSWORD for --client-key), never from a flag', async () => {
    const password = 'pass phrase, not a flag';
    const dpopKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file('enc.pem'), dpopKey.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: password }));
    writeFileSync(file('password.txt'), `${password}\nsecond line ignored\n`);
    writeFileSync(file('rsa-client-enc.pem'), rsaClientKey.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-128-cbc', passphrase: password }));
    const expected = await thumbprintOf(dpopKey.privateKey);

    const fromEnv = await cli([...tokenFlags(), '--key', file('enc.pem'), peers.apiUrl], { env: { DPOP_KEY_PASSWORD: password } });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(answeredJkt(fromEnv.stdout)).toBe(expected);
    expect((await cli(['thumbprint', '--key', file('enc.pem'), '--key-password-file', file('password.txt')])).stdout.trim()).toBe(expected);

    const client = ['--token-endpoint', peers.tokenEndpoint, '--client-id', 'jwt.RS256', '--client-key', file('rsa-client-enc.pem'), '--client-key-id', 'r1', '--scope', 'api'];
    const rsaOk = await cli([...client, '--key', file('enc.pem'), '--key-password-file', file('password.txt'), peers.apiUrl], { env: { DPOP_CLIENT_KEY_PASSWORD: password } });
    expect(rsaOk.code, rsaOk.stderr).toBe(0);
    expectOneLine(await cli([...client, peers.apiUrl], { env: { DPOP_KEY_PASSWORD: password } }), 1, /cannot use the client key ".*rsa-client-enc\.pem" \(--client-key\): the key is encrypted; give its password \(DPOP_CLIENT_KEY_PASSWORD or --client-key-password-file\)$/);

    expectOneLine(await cli(['thumbprint', '--key', file('enc.pem')]), 1, /cannot use the key file ".*enc\.pem" \(--key\): the key is encrypted; give its password \(DPOP_KEY_PASSWORD or --key-password-file\)$/);
    expectOneLine(await cli(['thumbprint', '--key', file('enc.pem')], { env: { DPOP_KEY_PASSWORD: 'wrong' } }), 1, /: the password is wrong \(the key did not decrypt\); check the password$/);
    const flagged = await cli(['thumbprint', '--key', file('enc.pem'), '--key-password', password]);
    expectOneLine(flagged, 2, /^dpop-fetch: --key-password would show the password to anyone who runs ps; set DPOP_KEY_PASSWORD or give --key-password-file <file>$/);
    expect(flagged.stderr).not.toContain(password);
    expectOneLine(await cli(['thumbprint', '--key', file('enc.pem'), '--key-password-file', file('absent.txt')]), 1, /cannot read the password file ".*absent\.txt" \(no such file\); check --key-password-file/);
  });

  it('a missing key file says which flag named it and how to make one', async () => {
    const result = await cli(['--key', file('absent.pem'), peers.apiUrl]);
    expectOneLine(result, 1, /cannot read the key file ".*absent\.pem" \(no such file\); check --key, or make a key with dpop-fetch keygen/);
  });

  it('an RSA key file is refused for what it is, before any request is sent', async () => {
    const mark = exchanges.length;
    expectOneLine(await cli([...tokenFlags(), '--key', file('rsa.pem'), peers.apiUrl]), 1, /cannot use the key file ".*rsa\.pem" \(--key\): an RSA key; .*P-256/);
    expect(exchanges.length).toBe(mark);
  });

  it('a wrong client secret gives the OAuth error, never the secret; -v adds the stack, still without it', async () => {
    const secret = 'Wr0ng-s3cret+/=value';
    const args = ['--token-endpoint', peers.tokenEndpoint, '--client-id', peers.clientId, '--client-secret', secret, peers.apiUrl];
    const result = await cli(args);
    const line = expectOneLine(result, 1, /the token endpoint refused the request: invalid_client .*HTTP 401; check --client-id, --client-secret/);
    expect(line).not.toContain(secret);
    const verbose = await cli(['-v', ...args]);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/OAuthError: .*\n\s+at /);
    expect(verbose.stderr).toContain('client_secret=[redacted]');
    for (const form of [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]) {
      expect(verbose.stderr + verbose.stdout).not.toContain(form);
    }
  });

  it('an unreachable token endpoint is named, with the system error', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await cli(['--token-endpoint', `http://127.0.0.1:${port}/token`, '--client-id', 'x', '--client-secret', 'y', peers.apiUrl]);
    expectOneLine(result, 1, new RegExp(`could not reach the token endpoint http://127\\.0\\.0\\.1:${port}/token \\(ECONNREFUSED\\); check --token-endpoint`));
  });

  it('an API that answers 401 exits 1 with its challenge; the body still goes to stdout', async () => {
    const result = await cli([peers.apiUrl]);
    expectOneLine(result, 1, /GET .* answered HTTP 401 Unauthorized; the API wants a token/);
  });

  it('--max-time gives up on a server that never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`;
      expectOneLine(await cli(['-m', '0.5', url]), 1, /no complete answer within 0\.5 s; raise --max-time/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('--help and --version answer on stdout with exit 0', async () => {
    const help = await cli(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('dpop-fetch keygen [--out key.pem]');
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `dpop-fetch ${version}\n` });
  });
});

describe('dpop-fetch in other hands', () => {
  it('runs under Deno from the local path against the same servers', async () => {
    const deno = (args: string[]) => run('npx', ['deno', 'run', '--allow-net', '--allow-read', '--allow-env', 'dist/cli/main.js', ...args]);
    const result = await deno([...tokenFlags(), '--key', file('key.pem'), peers.apiUrl]);
    expect(result.code, result.stderr).toBe(0);
    expect(answeredJkt(result.stdout)).toBe(await thumbprintOf(readFileSync(file('key.pem'), 'utf8')));
    const wrong = await deno(['--key', file('rsa.pem'), peers.apiUrl]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^dpop-fetch: cannot use the key file ".*rsa\.pem" \(--key\): an RSA key; /m);
    // A missing permission flag is a command-line mistake, and the line says which flags to give.
    const denied = await run('npx', ['deno', 'run', '--allow-net', 'dist/cli/main.js', peers.apiUrl]);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/^dpop-fetch: Deno refused: Requires env access to "DPOP_\w+"; run deno run --allow-net --allow-read --allow-env/m);
  }, 60_000);

  it('installs from npm pack and runs as npx dpop-fetch', async () => {
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), '{"name":"user-project","private":true}');
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir]);
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = join(dir, packed.stdout.trim().split('\n').pop()!);
    const install = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project });
    expect(install.code, install.stderr).toBe(0);
    const bin = join(project, 'node_modules/.bin/dpop-fetch');
    expect(statSync(bin).mode & 0o111).not.toBe(0); // executable, run through its #! line
    expect(await run(bin, ['--version'], { cwd: project })).toMatchObject({ code: 0, stdout: expect.stringMatching(/^dpop-fetch \d+\.\d+\.\d+\n$/) });
    // --offline --no: npx may only run the installed bin, never fetch a package of that name.
    const keygen = await run('npx', ['--offline', '--no', '--', 'dpop-fetch', 'keygen', '--out', 'k.pem'], { cwd: project });
    expect(keygen.code, keygen.stderr).toBe(0);
    expect(keygen.stdout.trim()).toBe(await thumbprintOf(readFileSync(join(project, 'k.pem'), 'utf8')));
  }, 90_000);
});
