/**
 * Redirects of resource requests, followed by createDPoPFetch itself (Fetch §4.4 "HTTP-redirect
 * fetch", RFC 9110 §15.4).
 *
 * Why not let `fetch` follow them: a DPoP proof is bound to one URL (`htu`, RFC 9449 §4.3 check
 * 9), so a request that `fetch` redirects arrives with a proof for the wrong URL and is refused;
 * and `fetch` keeps the `DPoP` header (and, same-origin, the token) on whatever URL the server
 * names. So createDPoPFetch sends with `redirect: 'manual'` when the caller asked for `'follow'`,
 * and builds each next request here, by the same rules `fetch` uses, with the headers a new proof
 * and token will replace already removed.
 *
 * Loaded lazily (`import()`), on the first redirect createDPoPFetch follows: a browser never
 * loads it, since its redirects are opaque (createDPoPFetch rejects them with `ERR_REDIRECT`
 * first), and most APIs never redirect. So it imports nothing the core path has: DPoPError is
 * handed over by the caller, as a module imported both here and up front would be split by
 * bundlers into a chunk of its own (see src/grants/assertion.ts).
 *
 * @see https://fetch.spec.whatwg.org/#http-redirect-fetch
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
import type { DPoPError } from './errors.ts';

// Fetch §4.4 step 12: headers that describe a body, dropped when the redirect drops the body.
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];
// Headers `fetch` removes on a cross-origin redirect (the spec names Authorization; undici and
// browsers also drop these). The token and proof are re-added only for origins that may have them.
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];
// Request options that differ from their defaults are carried to the next request. Only those:
// some runtimes (workerd) throw on options they do not implement, such as `cache` or `mode`.
const DEFAULTS = { credentials: 'same-origin', cache: 'default', mode: 'cors', referrerPolicy: '', keepalive: false } as const;

/**
 * The request to send after `response`, a redirect answering `request` (301, 302, 303, 307 or
 * 308 with a `Location`, as createDPoPFetch checks first).
 *
 * Outcomes, each decided here:
 * - 301/302 to a POST, or 303 to anything but GET/HEAD: the next request is a GET without body
 *   (as `fetch` does); 307/308 keep method and body.
 * - A body that was a one-shot stream cannot be sent again: `ERR_BODY_NOT_REPLAYABLE`.
 * - A `Location` that is not a valid http(s) URL: `ERR_REDIRECT` (fetch would fail too).
 * - Cross-origin: `Authorization`, `Proxy-Authorization` and `Cookie` are dropped; `DPoP` is
 *   always dropped, since its proof was for the previous URL.
 *
 * @param replayable false when the body was a one-shot stream, already consumed by the send.
 * @param Failure the DPoPError class, handed over (see the top of this file).
 */
export async function redirectedRequest(request: Request, response: Response, replayable: boolean, Failure: typeof DPoPError): Promise<Request> {
  const from = new URL(request.url);
  const { status } = response;
  const { method } = request;
  let next: URL | undefined;
  try {
    next = new URL(response.headers.get('location')!, response.url || request.url);
    // A URL with credentials cannot be requested (fetch throws a TypeError): invalid here too.
    if (next.username || next.password) next = undefined;
  } catch {
    // said below
  }
  if (next?.protocol !== 'https:' && next?.protocol !== 'http:') {
    throw new Failure('ERR_REDIRECT', `The server at ${from.origin} redirected to ${next ? `a ${next.protocol}` : 'an invalid'} URL (HTTP ${status}); only http(s) URLs are followed. Fix its Location header.`, { response });
  }
  if (!next.hash && from.hash) next.hash = from.hash; // Fetch §4.4 step 9
  const headers = new Headers(request.headers);
  headers.delete('dpop');
  if (next.origin !== from.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
  // status is 301, 302, 303, 307 or 308 (createDPoPFetch's isRedirect).
  const toGet = (status < 303 && method === 'POST') || (status === 303 && method !== 'GET' && method !== 'HEAD');
  let body: ArrayBuffer | null = null;
  if (toGet) {
    for (const name of BODY_HEADERS) headers.delete(name);
  } else if (request.body) {
    if (!replayable) {
      throw new Failure(
        'ERR_BODY_NOT_REPLAYABLE',
        `The server at ${from.origin} redirected (HTTP ${status}), but the body is a one-shot stream, already sent. Send the request to ${next.origin}${next.pathname} directly, or pass a string, Blob, ArrayBuffer or FormData body.`,
        { response },
      );
    }
    // Bytes, not the stream: a browser sends a stream body only over HTTP/2 (duplex: 'half').
    body = await request.arrayBuffer();
  }
  const init: Record<string, unknown> = { method: toGet ? 'GET' : method, headers, body, redirect: 'manual', signal: request.signal };
  for (const [name, fallback] of Object.entries(DEFAULTS)) {
    const value = (request as unknown as Record<string, unknown>)[name];
    if (value !== undefined && value !== fallback && value !== 'navigate') init[name] = value;
  }
  return new Request(next, init);
}
