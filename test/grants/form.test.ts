// The form a grant sends (src/grants/form.ts): scope, resource and params as they reach the
// token endpoint, and the checks of those options and of the endpoint URL. Through
// clientCredentials and createDPoPFetch with an in-process fake server passed as `fetch`; the
// same forms accepted by oidc-provider are in grants.peers.test.ts (resource indicators, params).
import { describe, expect, it } from 'vitest';
import { authorizationCode, clientCredentials, createDPoPFetch, generateKeyPair, type ClientCredentialsOptions } from '../../src/index.ts';

const keyPair = await generateKeyPair();
const tokenEndpoint = 'https://as.example/token';

/** The form of the one token request a first API call makes, as the server received it. */
async function formSent(options: Partial<ClientCredentialsOptions>): Promise<[string, string][]> {
  const forms: string[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (request.url !== tokenEndpoint) return new Response('ok');
    forms.push(await request.text());
    return Response.json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 300 });
  }) as typeof globalThis.fetch;
  const tokens = clientCredentials({ tokenEndpoint, clientId: 'c', clientSecret: 's', ...options });
  await createDPoPFetch({ keyPair, tokens, fetch })('https://rs.example/x');
  expect(forms).toHaveLength(1);
  return [...new URLSearchParams(forms[0])];
}

const refusal = (code: string, message: string) => expect.objectContaining({ name: 'TypeError', code, message });

describe('the form sent', () => {
  it('scope as a string with runs of spaces, or as a list → one space-separated scope', async () => {
    expect(await formSent({ scope: ' read  write ' })).toContainEqual(['scope', 'read write']);
    expect(await formSent({ scope: ['read', 'write'] })).toContainEqual(['scope', 'read write']);
  });

  it('no scope, an empty one or only spaces → no scope parameter; params.scope is then sent as given', async () => {
    for (const scope of [undefined, '', '  ', []]) {
      expect((await formSent({ scope })).map(([name]) => name), String(scope)).not.toContain('scope');
    }
    expect(await formSent({ params: { scope: 'from-params' } })).toContainEqual(['scope', 'from-params']);
  });

  it('resource: a string of several, space-separated, or a list → one resource parameter each, in order (RFC 8707)', async () => {
    const resources = (form: [string, string][]) => form.filter(([name]) => name === 'resource').map(([, value]) => value);
    expect(resources(await formSent({ resource: 'https://a.example/ urn:example:b' }))).toEqual(['https://a.example/', 'urn:example:b']);
    expect(resources(await formSent({ resource: ['https://a.example/', 'urn:example:b'] }))).toEqual(['https://a.example/', 'urn:example:b']);
    expect(resources(await formSent({ resource: 'https://a.example/', params: { resource: 'https://params.example/' } }))).toEqual(['https://a.example/']);
  });

  it('params come first and cannot override the grant type, scope or credentials', async () => {
    const form = await formSent({ scope: 'api', params: { audience: 'x', grant_type: 'password', scope: 'admin', client_id: 'other' } });
    expect(form).toEqual([
      ['audience', 'x'],
      ['grant_type', 'client_credentials'],
      ['scope', 'api'],
      ['client_id', 'c'],
      ['client_secret', 's'],
    ]);
  });
});

describe('the authorization URL', () => {
  it('keeps the endpoint\'s own query, and ours replaces a parameter of the same name instead of repeating it (RFC 6749 §3.1)', async () => {
    const { url } = await authorizationCode.start({ authorizationEndpoint: 'https://as.example/authorize?tenant=t1&client_id=other&scope=a&scope=b', clientId: 'spa', redirectUri: 'https://app.example/cb', scope: 'api', keyPair });
    const query = new URL(url).searchParams;
    expect(query.getAll('tenant')).toEqual(['t1']);
    expect(query.getAll('client_id')).toEqual(['spa']);
    expect(query.getAll('scope')).toEqual(['api']);
  });
});

describe('the options checked before any request', () => {
  const make = (options: Partial<ClientCredentialsOptions>) => () => clientCredentials({ tokenEndpoint, clientId: 'c', clientSecret: 's', ...options });

  it('scope or resource neither a string nor a list of non-empty strings → ERR_INVALID_ARG_TYPE naming the option', () => {
    for (const value of [42, null, {}, ['a', ''], ['a', 7], [[]]]) {
      expect(make({ scope: value as never }), JSON.stringify(value)).toThrow(refusal('ERR_INVALID_ARG_TYPE', '"options.scope" must be a string or an array of non-empty strings'));
      expect(make({ resource: value as never }), JSON.stringify(value)).toThrow(refusal('ERR_INVALID_ARG_TYPE', '"options.resource" must be a string or an array of non-empty strings'));
    }
  });

  it('params not an object of strings → ERR_INVALID_ARG_TYPE', () => {
    for (const params of [null, 'a=b', ['a'], { a: 1 }, { a: 'b', c: undefined }]) {
      expect(make({ params: params as never }), JSON.stringify(params)).toThrow(refusal('ERR_INVALID_ARG_TYPE', '"options.params" must be an object of string values'));
    }
  });

  it('allowInsecureHttp not a boolean → ERR_INVALID_ARG_TYPE, even on an https: endpoint', () => {
    expect(make({ allowInsecureHttp: 'yes' as never })).toThrow(refusal('ERR_INVALID_ARG_TYPE', '"options.allowInsecureHttp" must be a boolean'));
  });

  it('a token endpoint with a fragment → ERR_INVALID_ARG_VALUE', () => {
    expect(make({ tokenEndpoint: 'https://as.example/token#x' })).toThrow(refusal('ERR_INVALID_ARG_VALUE', expect.stringContaining('"options.tokenEndpoint" must not have a fragment or credentials')));
  });
});
