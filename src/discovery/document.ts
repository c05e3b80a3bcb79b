/**
 * One metadata document (RFC 8414 §3, RFC 9728 §3): a GET that never follows a redirect and
 * sends no credential, a `200` JSON object or the reason there is none, how long the answer may
 * be kept (its HTTP freshness), and the checks every URL member of a document passes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3.2
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-3.2
 */
import { assertBoolean, assertFunction, assertObject, invalidType, isLoopback, tagOf } from '../assert.ts';
import { readJson } from '../context.ts';
import { DPoPError } from '../errors.ts';

/** Options of {@link discover} and {@link protectedResource}. */
export interface DiscoveryOptions {
  /** The fetch to send with. Default: the global fetch at call time. */
  fetch?: typeof fetch | undefined;
  /** Ends the wait (the request itself may be shared with other callers and go on). */
  signal?: AbortSignal | undefined;
  /** Accept http: URLs on hosts other than loopback ones. Default false. */
  allowInsecureHttp?: boolean | undefined;
}

// A metadata document is a few kilobytes; a server that sends more is not sending one.
const MAX_BYTES = 1 << 20;
const HOUR = 3_600_000;
// Even a server that says its metadata is good for a year is asked again after a day.
const DAY = 24 * HOUR;

/** `ERR_DISCOVERY` with `message`. */
export function discoveryError(message: string, cause?: unknown): DPoPError {
  return new DPoPError('ERR_DISCOVERY', message, { cause });
}

/** Checks the options shared by discover() and protectedResource(); returns the fetch to use. */
export function checkDiscoveryOptions(options: DiscoveryOptions): typeof fetch {
  assertObject(options, 'options');
  assertFunction(options.fetch, 'options.fetch');
  if (options.signal !== undefined && tagOf(options.signal) !== 'AbortSignal') throw invalidType('options.signal', 'an AbortSignal');
  assertBoolean(options.allowInsecureHttp, 'options.allowInsecureHttp');
  return options.fetch ?? ((input, init) => globalThis.fetch(input, init));
}

/**
 * What is wrong with a URL a server named, or undefined when nothing is: an absolute https: URL
 * (http: on a loopback host or with `allowInsecureHttp`), with no credentials and no fragment.
 */
export function urlProblem(value: unknown, allowInsecureHttp: boolean | undefined): string | URL {
  let url: URL;
  try {
    if (typeof value !== 'string') return 'is not a string';
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (isLoopback(url) || allowInsecureHttp))) {
    return 'is not an https: URL (http: only on a loopback host, or with allowInsecureHttp: true)';
  }
  if (url.username || url.password) return 'carries credentials';
  if (url.hash || value.endsWith('#')) return 'has a fragment';
  return url;
}

/**
 * How long a response may be used, in ms (RFC 9111 §4.2.1): `no-store`/`no-cache` 0, else
 * `max-age`, else `Expires` minus `Date`, less `Age`; an hour when it says nothing, a day at most.
 */
export function freshness(headers: Headers): number {
  const control = headers.get('cache-control')?.toLowerCase() ?? '';
  if (/(?:^|,)\s*no-(?:store|cache)\b/.test(control)) return 0;
  const age = Number(headers.get('age'));
  const maxAge = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})/.exec(control)?.[1];
  const expires = headers.get('expires');
  let ms = HOUR;
  if (maxAge !== undefined) ms = Number(maxAge) * 1000;
  // An Expires that is not a date (e.g. "0") means already expired (RFC 9111 §5.3).
  else if (expires !== null) ms = Date.parse(expires) - Date.parse(headers.get('date') ?? '') || 0;
  return Math.min(DAY, Math.max(0, ms - (Number.isInteger(age) && age > 0 ? age * 1000 : 0)));
}

/**
 * A request for a document that got no answer: `ERR_DISCOVERY`, saying so when the time ran
 * out; an abort for any other reason rejects with that reason, as `fetch` does.
 */
export function unreachable(url: URL, signal: AbortSignal | undefined, cause: unknown, reading?: boolean): unknown {
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  const timedOut = (reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
  if (reason !== undefined && !timedOut) return reason;
  return discoveryError(
    timedOut
      ? `${url.href} did not answer in time${reading ? ' (stalled while sending its answer)' : ''}. Check the server's health.`
      : `The connection to ${url.href} failed${reading ? ' while reading its answer' : ''}. Check the URL and the network.`,
    timedOut ? reason : cause,
  );
}

/** A document that was found: its members, and how long it may be kept (ms). */
export interface Found {
  json: Record<string, unknown>;
  freshFor: number;
}

/**
 * GETs a metadata document. Returns it, or a phrase that says why there is none at that URL
 * ("HTTP 404", "a redirect", "no JSON object", …) so that the caller can try elsewhere or explain.
 * A request that gets no answer is `ERR_DISCOVERY`; an abort rejects with its reason.
 */
export async function getDocument(url: URL, send: typeof fetch, signal: AbortSignal | undefined): Promise<Found | string> {
  let response: Response;
  try {
    response = await send(url.href, { headers: { accept: 'application/json' }, redirect: 'manual', ...(signal ? { signal } : {}) });
  } catch (err) {
    throw unreachable(url, signal, err);
  }
  const { status } = response;
  const type = response.headers.get('content-type')?.split(';')[0]!.trim().toLowerCase();
  let why: string | undefined;
  if (response.type === 'opaqueredirect' || (status > 299 && status < 400)) why = `a redirect (HTTP ${status || 'opaque'}), which is never followed`;
  else if (status !== 200) why = `HTTP ${status}`;
  else if (type !== 'application/json') why = `content-type ${type ?? 'missing'}, not application/json`;
  if (why) {
    await response.body?.cancel().catch(() => {});
    return why;
  }
  const json = await readJson(response, MAX_BYTES).catch((err: unknown) => {
    throw unreachable(url, signal, err, true);
  });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'no JSON object of at most 1 MiB';
  return { json: json as Record<string, unknown>, freshFor: freshness(response.headers) };
}

/** Whether `value` is a list of strings (as the `*_supported` members are). */
export function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * Refuses a document that lists DPoP algorithms without ES256, the only one dpop-fetch signs
 * with (RFC 9449 §5.1, RFC 9728 §2). `who` names the server for the message.
 */
export function checkDPoPAlgs(json: Record<string, unknown>, who: string): void {
  const algs = json.dpop_signing_alg_values_supported;
  if (algs === undefined) return;
  if (!isStringList(algs)) throw discoveryError(`${who} has a "dpop_signing_alg_values_supported" that is not a list of strings. Fix the server's metadata.`);
  if (!algs.includes('ES256')) {
    const listed = algs.length ? algs.map((alg) => alg.slice(0, 20)).slice(0, 10).join(', ') : 'none';
    throw discoveryError(`${who} accepts DPoP proofs signed with ${listed} (dpop_signing_alg_values_supported), not ES256, the only algorithm dpop-fetch signs with. Enable ES256 for DPoP at the server.`);
  }
}
