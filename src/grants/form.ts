/**
 * The pieces every grant's request is made of: an endpoint option checked and parsed
 * ({@link endpointUrl}), and the form or query it sends ({@link requestForm}, {@link grantForm}):
 * extra `params`, then the grant's own fields, `scope` and `resource` (RFC 8707).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4
 */
import { assertBoolean, invalidType, invalidValue, isLoopback, isObject, parseHttpUrl, parseUrl } from '../assert.ts';
import type { ClientAuthOptions } from './client-auth.ts';

/** Where a token source sends its requests, and as which client. */
export interface EndpointOptions extends ClientAuthOptions {
  /**
   * The token endpoint: https, or http on a loopback host (or with `allowInsecureHttp`).
   * Required here; with `dpop-fetch/discovery`, it may come from `issuer` or from the API.
   */
  tokenEndpoint?: string | URL | undefined;
  /** RFC 8707 resource indicator(s). */
  resource?: string | readonly string[] | undefined;
  /** Allow http: endpoints on non-loopback hosts. Default false. */
  allowInsecureHttp?: boolean | undefined;
}

/** Parses and checks an endpoint option (token or authorization endpoint). */
export function endpointUrl(value: unknown, path: string, allowInsecureHttp: unknown): URL {
  assertBoolean(allowInsecureHttp, 'options.allowInsecureHttp');
  const url = parseHttpUrl(value, path);
  if (url.protocol === 'http:' && !isLoopback(url) && !allowInsecureHttp) {
    throw invalidValue(path, 'must be an https: URL (http: only on a loopback host, or with allowInsecureHttp: true)');
  }
  // Credentials in a URL end up in logs and errors (issue 13): they have their own options.
  if (url.hash || url.username || url.password) {
    throw invalidValue(path, 'must not have a fragment or credentials (user:password@); pass credentials as clientSecret, with authMethod');
  }
  return url;
}

/** Checks a string-or-list option and returns its values. */
function stringList(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '')) return value as string[];
  throw invalidType(path, 'a string or an array of non-empty strings');
}

/**
 * The parameters of a request to the server: extra `params` first, so they cannot override
 * `fields`, then `scope` and `resource` (RFC 8707, repeatable).
 */
export function requestForm(
  options: { scope?: unknown; resource?: unknown; params?: unknown },
  fields: Record<string, string>,
): URLSearchParams {
  const scope = stringList(options.scope, 'options.scope').join(' ');
  const resources = stringList(options.resource, 'options.resource');
  // RFC 8707 §2: an absolute URI (any scheme: urn:example:api, api://my-api) without a fragment.
  for (const resource of resources) {
    if (parseUrl(resource, 'options.resource') && resource.includes('#')) throw invalidValue('options.resource', 'must not have a fragment');
  }
  const { params = {} } = options;
  if (!isObject(params) || Array.isArray(params) || !Object.values(params).every((v) => typeof v === 'string')) {
    throw invalidType('options.params', 'an object of string values');
  }
  const form = new URLSearchParams(params as Record<string, string>);
  for (const name in fields) form.set(name, fields[name]!);
  if (scope) form.set('scope', scope);
  form.delete('resource');
  for (const resource of resources) form.append('resource', resource);
  return form;
}

/** The form of a grant request (RFC 6749 §4): {@link requestForm} with `grant_type`. */
export function grantForm(
  grantType: string,
  options: { scope?: unknown; resource?: unknown; params?: unknown },
  fields: Record<string, string> = {},
): URLSearchParams {
  return requestForm(options, { grant_type: grantType, ...fields });
}

/** `endpoint` with `query` added; RFC 6749 §3.1: the endpoint's own query is kept, and ours comes after and wins. */
export function withQuery(endpoint: URL, query: URLSearchParams): string {
  const url = new URL(endpoint);
  for (const name of new Set(query.keys())) url.searchParams.delete(name);
  for (const [name, value] of query) url.searchParams.append(name, value);
  return url.href;
}
