// Shared by the unit tests: independent decoding of our output with jose.
import * as jose from 'jose';

export function decodeProof(proof: string) {
  return { header: jose.decodeProtectedHeader(proof), claims: jose.decodeJwt(proof) };
}

/** Verifies a DPoP proof with jose against the public key embedded in its own header. */
export async function verifyProof(proof: string) {
  return jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
}

/** base64url(SHA-256(text)) computed without our code. */
export async function sha256b64url(text: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(text).digest('base64url');
}

/** Captures the error a promise or function rejects with. */
export async function caught(fn: () => unknown): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, got none');
}

/** An in-process fake server passed as `fetch`: records every request it gets (cloned, so bodies stay readable). */
export function recordingFetch(handler: (request: Request, n: number) => Response | Promise<Response>) {
  const seen: Request[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    seen.push(request.clone());
    return handler(request, seen.length);
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}
