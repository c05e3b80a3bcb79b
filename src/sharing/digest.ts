/**
 * The names of a fleet's store entries: SHA-256 hashes, so that an entry's key says nothing of
 * the client, the servers or the key it belongs to, and has a bounded length every engine takes.
 */

/** base64url(SHA-256(text)). */
export async function sha256(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The RFC 7638 thumbprint of a P-256 key pair (createDPoPFetch checked it is one): the `jkt`
 * its tokens are bound to. src/keys/thumbprint.ts computes the same for any key; it is not
 * imported here because this file loads lazily, and sharing a module with the core path would
 * split the core bundle into chunks that weigh more than these lines.
 */
export async function thumbprint(keyPair: CryptoKeyPair): Promise<string> {
  const { crv, x, y } = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
  return sha256(`{"crv":"${crv}","kty":"EC","x":"${x}","y":"${y}"}`);
}
