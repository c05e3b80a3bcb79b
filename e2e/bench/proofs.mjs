// @ts-check
/**
 * Proof creation, every proof with `ath` and `nonce`: dpop-fetch's createProof (and the
 * unchecked signer createDPoPFetch calls per request) against the bare crypto.subtle.sign of a
 * payload of the same size (the floor), panva's `dpop` generateProof, and jose's SignJWT with
 * the same header and claims.
 */
import { generateProof } from 'dpop';
import { SignJWT, base64url } from 'jose';
import { signProof } from '../../dist/proof.js';
import { compare } from './measure.mjs';

const HTU = 'https://resource.example.org/api/things/42';
const NONCE = 'eyJ7S_zG.eyJH0-Z.HX4w-7v';
// The size of a JWT access token as oidc-provider issues them (~800 characters).
const ACCESS_TOKEN = `eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.${'eyJzdWIiOiJtMm0uZHBvcCJ9'.repeat(28)}.${'s'.repeat(86)}`;

/**
 * @param {typeof import('../../dist/index.js')} lib
 * @param {Parameters<typeof compare>[2]} [options]
 */
export async function benchProofs(lib, options) {
  const keyPair = await lib.generateKeyPair();
  const sample = await lib.createProof(keyPair, { htm: 'GET', htu: HTU, accessToken: ACCESS_TOKEN, nonce: NONCE });
  const signingInput = new TextEncoder().encode(sample.slice(0, sample.lastIndexOf('.')));
  const sign = { name: 'ECDSA', hash: 'SHA-256' };
  const jwk = await lib.exportPublicJwk(keyPair);
  const encoder = new TextEncoder();

  const results = await compare(
    { name: '`crypto.subtle.sign`, same-size payload (floor)', run: () => crypto.subtle.sign(sign, keyPair.privateKey, signingInput) },
    [
      { name: 'the floor again (a control: how far apart two identical series land)', run: () => crypto.subtle.sign(sign, keyPair.privateKey, signingInput) },
      { name: 'dpop-fetch `createProof`', run: () => lib.createProof(keyPair, { htm: 'GET', htu: HTU, accessToken: ACCESS_TOKEN, nonce: NONCE }) },
      { name: 'dpop-fetch per request (the signer `createDPoPFetch` calls, arguments already checked)', run: () => signProof(keyPair, 'GET', HTU, ACCESS_TOKEN, NONCE) },
      { name: 'dpop `generateProof`', run: () => generateProof(keyPair, HTU, 'GET', NONCE, ACCESS_TOKEN) },
      {
        name: 'jose `SignJWT` (JWK exported once, `ath` hashed per proof)',
        run: async () => {
          const ath = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(ACCESS_TOKEN))));
          return new SignJWT({ htm: 'GET', htu: HTU, ath, nonce: NONCE })
            .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
            .setIssuedAt()
            .setJti(crypto.randomUUID())
            .sign(keyPair.privateKey);
        },
      },
    ],
    options,
  );
  return { results, signingInputBytes: signingInput.length, tokenLength: ACCESS_TOKEN.length };
}
