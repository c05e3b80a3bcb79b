/**
 * What createDPoPFetch reports through its `onEvent` option, so an application can log or
 * count it. Events never carry a token, a secret, a proof signature or a key.
 */

export type DPoPEvent =
  /** A token was obtained; `renewal` when it replaced an earlier one. */
  | { type: 'token'; tokenType: 'DPoP' | 'Bearer'; expiresIn: number | undefined; renewal: boolean; scope?: string | undefined }
  /** A server demanded a (new) nonce and the request is sent once more with it. */
  | { type: 'nonce-retry'; server: 'token' | 'resource'; url: string }
  /** The resource server said `invalid_token` for a cached token: it is dropped and renewed. */
  | { type: 'token-rejected'; url: string }
  /** The `Date` of a response showed the local clock is off; `offset` is in milliseconds. */
  | { type: 'clock-skew'; offset: number; url: string }
  /** A proof was sent (debug): decoded header and claims, `ath` kept, no signature. */
  | { type: 'proof'; header: Record<string, unknown>; claims: Record<string, unknown> }
  /**
   * The shared store (createDPoPFetch's `store`) failed, took more than a second, or held
   * something unusable. The request goes on with this instance's own token and nonces; the
   * store is tried again a few seconds later. `reason`: `error` (it threw or rejected; `error`
   * is the error's name and code, never its message), `timeout`, `unusable` (`detail` says
   * what was wrong with the value; the value itself is never included), or `refused` (`detail`
   * says why the store is not used for these tokens: a user's tokens through a store that is
   * not one user's, issue 16).
   */
  | { type: 'store-error'; operation: 'get' | 'set' | 'delete' | 'lock' | 'release' | 'session'; reason: 'error' | 'timeout' | 'unusable' | 'refused' | 'degraded'; error?: string; detail?: string };

export type EventListener = (event: DPoPEvent) => void;

/** Calls the listener, if any; a throwing listener never breaks a request. */
export function emit(listener: EventListener | undefined, event: DPoPEvent): void {
  if (!listener) return;
  try {
    listener(event);
  } catch {
    // The application's logging must not change the request's outcome.
  }
}

// The library's own proofs are ASCII JSON (a UUID jti, an HTTP method, a serialised URL, which
// is percent-encoded and punycoded, base64url and NQCHAR values) in unpadded base64url, which
// atob accepts: this keeps base64url's checking decoder out of the client's bundle.
function decodeSegment(segment: string): Record<string, unknown> {
  return JSON.parse(atob(segment.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
}

/** Reports a proof's header and claims (debug mode); the signature is never included. */
export function emitProof(listener: EventListener | undefined, proof: string): void {
  const [header, claims] = proof.split('.') as [string, string];
  if (listener) emit(listener, { type: 'proof', header: decodeSegment(header), claims: decodeSegment(claims) });
}
