// Client authentication (src/grants/client-auth.ts): each method's wire form, judged by jose and by
// plain decoding; argument checks. The same methods against oidc-provider are in
// grants.peers.test.ts and fetch.peers.test.ts.
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { clientAuth, type ClientAuthOptions } from '../../src/grants/client-auth.ts';
import { generateKeyPair } from '../../src/index.ts';

const endpoint = new URL('https://as.example/token');
const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;

async function applied(options: ClientAuthOptions, now = 1_800_000_000) {
  const auth = clientAuth(options, endpoint);
  const body = new URLSearchParams();
  const headers: Record<string, string> = {};
  await auth.apply(body, headers, now);
  return { auth, form: Object.fromEntries(body), headers };
}

describe('client_secret_post, client_secret_basic, none', () => {
  it('post puts id and secret in the form; the secret is listed for scrubbing, raw and form-encoded', async () => {
    const { auth, form, headers } = await applied({ clientId: 'c', clientSecret: 'a b+c' });
    expect(auth.method).toBe('client_secret_post');
    expect(form).toEqual({ client_id: 'c', client_secret: 'a b+c' });
    expect(headers).toEqual({});
    expect(auth.secrets).toEqual(['a b+c', 'a+b%2Bc']);
    expect(auth.timeBound).toBe(false);
  });

  it('basic form-encodes id and secret before Base64 (RFC 6749 §2.3.1)', async () => {
    const { form, headers } = await applied({ clientId: 'id:1', clientSecret: 'p:a+s/s&w=o?r d', authMethod: 'client_secret_basic' });
    expect(form).toEqual({});
    const decoded = Buffer.from(headers.authorization!.replace(/^Basic /, ''), 'base64').toString();
    expect(decoded).toBe('id%3A1:p%3Aa%2Bs%2Fs%26w%3Do%3Fr+d');
  });

  it('none (a public client) sends only client_id', async () => {
    const { auth, form } = await applied({ clientId: 'spa' });
    expect(auth.method).toBe('none');
    expect(form).toEqual({ client_id: 'spa' });
    expect(auth.secrets).toEqual([]);
  });
});

describe('private_key_jwt', () => {
  it('signs an ES256 assertion that jose verifies with the registered public key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { auth, form } = await applied({ clientId: 'svc', clientAssertionKey: keys, clientAssertionKid: 'k1' }, now);
    expect(auth.method).toBe('private_key_jwt');
    expect(auth.timeBound).toBe(true);
    expect(form.client_id).toBe('svc');
    expect(form.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const { payload, protectedHeader } = await jose.jwtVerify(form.client_assertion!, keys.publicKey, { algorithms: ['ES256'], audience: endpoint.href, issuer: 'svc', subject: 'svc' });
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'JWT', kid: 'k1' });
    expect(payload).toEqual({ iss: 'svc', sub: 'svc', aud: endpoint.href, jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), iat: now, exp: now + 60 });
  });

  it('a flipped signature byte fails verification (the check above can fail)', async () => {
    const { form } = await applied({ clientId: 'svc', clientAssertionKey: keys.privateKey });
    const [h, p, s] = form.client_assertion!.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10]! ^= 1;
    await expect(jose.jwtVerify(`${h}.${p}.${sig.toString('base64url')}`, keys.publicKey, { algorithms: ['ES256'] })).rejects.toThrow();
  });

  it('makes a new jti and signature on every apply', async () => {
    const auth = clientAuth({ clientId: 'svc', clientAssertionKey: keys }, endpoint);
    const jtis = new Set<unknown>();
    for (let i = 0; i < 20; i++) {
      const body = new URLSearchParams();
      await auth.apply(body, {}, 1_800_000_000);
      jtis.add(jose.decodeJwt(body.get('client_assertion')!).jti);
    }
    expect(jtis.size).toBe(20);
  });

  it('aud: the token endpoint, else the issuer exactly as given, else the explicit audience', async () => {
    const aud = async (options: Partial<ClientAuthOptions>) => jose.decodeJwt((await applied({ clientId: 'svc', clientAssertionKey: keys, ...options })).form.client_assertion!).aud;
    expect(await aud({})).toBe('https://as.example/token');
    expect(await aud({ issuer: 'https://as.example' })).toBe('https://as.example'); // no slash added
    expect(await aud({ issuer: 'https://as.example', clientAssertionAudience: 'urn:as' })).toBe('urn:as');
  });

  it('is the default method when only an assertion key is given', async () => {
    expect((await applied({ clientId: 'svc', clientAssertionKey: keys })).auth.method).toBe('private_key_jwt');
  });
});

describe('private_key_jwt with RSA keys: the algorithm comes from the key', () => {
  const rsa = (name: 'RSASSA-PKCS1-v1_5' | 'RSA-PSS', hash: string, modulusLength = 2048) =>
    crypto.subtle.generateKey({ name, hash, modulusLength, publicExponent: Uint8Array.of(1, 0, 1) }, false, ['sign', 'verify']) as Promise<CryptoKeyPair>;

  for (const [name, hash, alg] of [
    ['RSASSA-PKCS1-v1_5', 'SHA-256', 'RS256'],
    ['RSASSA-PKCS1-v1_5', 'SHA-384', 'RS384'],
    ['RSASSA-PKCS1-v1_5', 'SHA-512', 'RS512'],
    ['RSA-PSS', 'SHA-256', 'PS256'],
    ['RSA-PSS', 'SHA-384', 'PS384'],
    ['RSA-PSS', 'SHA-512', 'PS512'],
  ] as const) {
    it(`${name} with ${hash} signs ${alg}, which jose verifies (and only as ${alg})`, async () => {
      const pair = await rsa(name, hash);
      const { form } = await applied({ clientId: 'svc', clientAssertionKey: pair, clientAssertionKid: 'r1' });
      const { protectedHeader, payload } = await jose.jwtVerify(form.client_assertion!, pair.publicKey, { algorithms: [alg], audience: endpoint.href, issuer: 'svc' });
      expect(protectedHeader).toEqual({ alg, typ: 'JWT', kid: 'r1' });
      expect(payload.sub).toBe('svc');
      // Checked as the other RSA scheme, the same signature fails: the scheme really is alg's.
      const [h, p, sig] = form.client_assertion!.split('.') as [string, string, string];
      const otherName = name === 'RSA-PSS' ? 'RSASSA-PKCS1-v1_5' : 'RSA-PSS';
      const otherKey = await crypto.subtle.importKey('spki', await crypto.subtle.exportKey('spki', pair.publicKey), { name: otherName, hash }, false, ['verify']);
      expect(await crypto.subtle.verify({ name: otherName, saltLength: 32 }, otherKey, Buffer.from(sig, 'base64url'), new TextEncoder().encode(`${h}.${p}`))).toBe(false);
    });
  }

  it('refuses keys that cannot sign an assertion: P-384, Ed25519, RSA-OAEP, an RSA key hashed with SHA-1, a verify-only key', async () => {
    const refuse = (clientAssertionKey: CryptoKeyPair | CryptoKey) => {
      try {
        clientAuth({ clientId: 'c', authMethod: 'private_key_jwt', clientAssertionKey }, endpoint);
      } catch (err) {
        return (err as Error & { code: string }).code + ': ' + (err as Error).message;
      }
      return 'accepted';
    };
    const expected = 'ERR_INVALID_ARG_VALUE: "options.clientAssertionKey" must be a P-256 or RSA signing key';
    const p384 = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign'])) as CryptoKeyPair;
    const ed = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const oaep = (await crypto.subtle.generateKey({ name: 'RSA-OAEP', hash: 'SHA-256', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1) }, false, ['decrypt', 'encrypt'])) as CryptoKeyPair;
    const sha1 = await rsa('RSASSA-PKCS1-v1_5', 'SHA-1');
    const verifyOnly = await crypto.subtle.importKey('jwk', { ...(await crypto.subtle.exportKey('jwk', (await rsa('RSA-PSS', 'SHA-256')).publicKey)) }, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']);
    expect([p384, ed, oaep, sha1].map(refuse)).toEqual(Array(4).fill(expected));
    expect(refuse(verifyOnly)).toBe('ERR_INVALID_ARG_TYPE: "options.clientAssertionKey" must be a private CryptoKey or CryptoKeyPair');
  });

  it('clientAssertionAlg: accepted when it is what the key signs, else refused naming that', async () => {
    const ps = await rsa('RSA-PSS', 'SHA-256');
    expect((await applied({ clientId: 'c', clientAssertionKey: ps, clientAssertionAlg: 'PS256' })).auth.method).toBe('private_key_jwt');
    expect(() => clientAuth({ clientId: 'c', clientAssertionKey: ps, clientAssertionAlg: 'RS256' }, endpoint)).toThrow('"options.clientAssertionAlg" must be PS256, what the key signs');
    expect(() => clientAuth({ clientId: 'c', clientAssertionKey: keys, clientAssertionAlg: 'PS256' }, endpoint)).toThrow('"options.clientAssertionAlg" must be ES256, what the key signs');
  });

  it('on invalid_client, the advice names what to check: the secret, or the key registered for its algorithm', async () => {
    expect(clientAuth({ clientId: 'c', clientSecret: 's' }, endpoint).advice).toBe('Check clientId, clientSecret and authMethod.');
    expect(clientAuth({ clientId: 'c', clientAssertionKey: await rsa('RSA-PSS', 'SHA-256') }, endpoint).advice).toBe("Check that the server has clientAssertionKey's public key for PS256.");
  });
});

describe('argument checks', () => {
  const bad = (options: Record<string, unknown>) => {
    try {
      clientAuth(options as unknown as ClientAuthOptions, endpoint);
    } catch (err) {
      return { code: (err as { code: string }).code, message: (err as Error).message };
    }
    throw new Error('expected a throw');
  };

  it('names the option and says what to do', async () => {
    const dpopKey = await generateKeyPair();
    expect(bad({})).toEqual({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.clientId" must be a string' });
    expect(bad({ clientId: 'c', authMethod: 'client_secret_jwt' })).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.authMethod" must be one of') });
    expect(bad({ clientId: 'c', authMethod: 'client_secret_basic' })).toEqual({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.clientSecret" is required with authMethod "client_secret_basic"' });
    expect(bad({ clientId: 'c', clientSecret: 's', authMethod: 'none' })).toEqual({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.clientSecret" is not used with authMethod "none"; remove it' });
    expect(bad({ clientId: 'c', clientSecret: 's', clientAssertionKey: keys })).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.clientAssertionKey" is not used with authMethod "client_secret_post"') });
    expect(bad({ clientId: 'c', authMethod: 'private_key_jwt' })).toEqual({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.clientAssertionKey" must be a private CryptoKey or CryptoKeyPair' });
    expect(bad({ clientId: 'c', clientAssertionKey: keys.publicKey, authMethod: 'private_key_jwt' })).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const p384 = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign'])) as CryptoKeyPair;
    expect(bad({ clientId: 'c', clientAssertionKey: p384 })).toEqual({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.clientAssertionKey" must be a P-256 or RSA signing key' });
    expect(bad({ clientId: 'c', clientAssertionKey: dpopKey, issuer: 42 })).toEqual({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.issuer" must be a string' });
    expect(bad({ clientId: 'c', clientAssertionKey: dpopKey, clientAssertionAudience: ['urn:as'] })).toEqual({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.clientAssertionAudience" must be a string' });
    expect(bad({ clientId: 'c', clientAssertionKey: dpopKey, clientAssertionKid: 7 })).toEqual({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.clientAssertionKid" must be a string' });
  });
});
