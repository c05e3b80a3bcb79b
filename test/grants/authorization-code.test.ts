// The authorization code grant (src/grants/authorization-code.ts) without a server: the
// callback URLs parseCallback reads or refuses, the request start builds (PKCE and dpop_jkt
// checked with node:crypto and jose), and the code source's states against an in-process fake
// token endpoint. What oidc-provider accepts (PKCE, dpop_jkt, the code once) is in
// grants.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { authorizationCode, generateKeyPair, OAuthError, type TokenContext } from '../../src/index.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { caught, recordingFetch } from '../helpers.ts';

const keyPair = await generateKeyPair();
const REDIRECT = 'https://app.example/cb';
const STATE = 'state-1';
const callback = (query: string) => `${REDIRECT}?${query}`;
function caughtSync(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, got none');
}

describe('parseCallback: an error the server sent back', () => {
  const refusal = (query: string) => {
    try {
      authorizationCode.parseCallback(callback(`state=${STATE}&${query}`), { state: STATE });
    } catch (err) {
      return err as any;
    }
    throw new Error('expected a refusal');
  };

  it('access_denied without a description → OAuthError saying the user or server declined, status 0, no description', () => {
    const err = refusal('error=access_denied');
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ code: 'ERR_OAUTH', error: 'access_denied', error_description: undefined, error_uri: undefined, status: 0 });
    expect(err.message).toBe('The authorization server refused the login: access_denied. The user or the server declined; offer to sign in again.');
  });

  it('another error with a description and an error_uri → both kept, the message says to check the request', () => {
    const err = refusal('error=invalid_scope&error_description=no+such+scope&error_uri=https%3A%2F%2Fas.example%2Fhelp');
    expect(err).toMatchObject({ error: 'invalid_scope', error_description: 'no such scope', error_uri: 'https://as.example/help' });
    expect(err.message).toBe('The authorization server refused the login: invalid_scope (no such scope). Check the authorization request (client, redirectUri, scope) against the client registration.');
  });

  it('an error of 150 characters and a description of 600 → cut to 100 and 500, in the message too', () => {
    const err = refusal(`error=${'e'.repeat(150)}&error_description=${'d'.repeat(600)}`);
    expect(err.error).toBe('e'.repeat(100));
    expect(err.error_description).toBe('d'.repeat(500));
    expect(err.message).toContain(`login: ${'e'.repeat(100)} (${'d'.repeat(500)}). Check`);
  });
});

describe('parseCallback: what it reads', () => {
  it('a callback with a fragment → the code still read (only a redirectUri must have none)', () => {
    expect(authorizationCode.parseCallback(`${callback(`code=c-1&state=${STATE}`)}#_=_`, { state: STATE })).toBe('c-1');
  });

  it('a name repeated that is 60 characters long → named by its first 40 only', () => {
    const name = 'n'.repeat(60);
    expect(() => authorizationCode.parseCallback(callback(`${name}=1&${name}=2&code=c&state=${STATE}`), { state: STATE })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(`carries "${'n'.repeat(40)}" more than once`) }),
    );
  });

  it('each refusal of the URL names "url": a repeat, another state, another issuer, an empty code', () => {
    const refused = (query: string, issuer?: string) => caughtSync(() => authorizationCode.parseCallback(callback(query), { state: STATE, issuer }));
    expect(refused(`code=c&code=d&state=${STATE}`).message).toMatch(/^"url" carries "code" more than once/);
    expect(refused('code=c&state=other').message).toMatch(/^"url" does not carry the state of the login this page started/);
    expect(refused(`code=c&state=${STATE}&iss=https%3A%2F%2Fother.example`, 'https://as.example').message).toMatch(/^"url" does not carry "iss" equal to options.issuer/);
    expect(refused(`code=&state=${STATE}`).message).toMatch(/^"url" has neither "code" nor "error"/);
  });

  it('options that are not an object, or an issuer that is not a string → TypeError naming them', () => {
    expect(() => authorizationCode.parseCallback(callback('code=c'), 'state' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: '"options" must be an object' }));
    expect(() => authorizationCode.parseCallback(callback('code=c'), { state: STATE, issuer: 7 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.issuer" must be a string' }));
  });
});

describe('start: its arguments', () => {
  it('options that are not an object, or a clientId that is not a string → TypeError naming them', async () => {
    const base = { authorizationEndpoint: 'https://as.example/authorize', clientId: 'spa', redirectUri: REDIRECT, keyPair };
    await expect(authorizationCode.start(42 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options" must be an object' });
    await expect(authorizationCode.start({ ...base, clientId: 7 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.clientId" must be a string' });
    await expect(authorizationCode.start({ ...base, redirectUri: `${REDIRECT}#x` })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.redirectUri" must not have a fragment' });
  });
});

describe('the code source', () => {
  const ENDPOINT = 'https://as.example/token';
  const VERIFIER = 'v'.repeat(43);
  const contextFor = (fetch: typeof globalThis.fetch): TokenContext => ({ keyPair, fetch, nonces: createNonceCache(), clock: createClock(), requireDPoP: true });
  const source = (options: Record<string, unknown> = {}) => authorizationCode({ tokenEndpoint: ENDPOINT, clientId: 'spa', redirectUri: REDIRECT, code: 'c-1', codeVerifier: VERIFIER, ...options });

  it('a code verifier of 42 or 129 characters, or with a character outside RFC 7636 §4.1 → refused; 43 and 128 → accepted', () => {
    for (const codeVerifier of ['v'.repeat(42), 'v'.repeat(129), `${'v'.repeat(43)} `, ` ${'v'.repeat(43)}`, `${'v'.repeat(42)}+`]) {
      expect(() => source({ codeVerifier }), codeVerifier).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.codeVerifier" must be 43 to 128 characters') }));
    }
    for (const codeVerifier of ['v'.repeat(43), `${'A-._~'.repeat(25)}abc`]) expect(() => source({ codeVerifier })).not.toThrow();
  });

  it('options that are not an object, a code, verifier or onRefreshToken of the wrong type → TypeError naming each', () => {
    const refusal = (message: string) => expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message });
    expect(() => authorizationCode(42 as never)).toThrow(refusal('"options" must be an object'));
    expect(() => source({ code: 7 })).toThrow(refusal('"options.code" must be a string'));
    expect(() => source({ codeVerifier: 7 })).toThrow(refusal('"options.codeVerifier" must be a string'));
    expect(() => source({ onRefreshToken: 'store' })).toThrow(refusal('"options.onRefreshToken" must be a function'));
  });

  it('resource and params → sent with the exchange and with every refresh', async () => {
    const as = recordingFetch(() => Response.json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 60, refresh_token: 'rt-1' }));
    const tokens = source({ resource: 'https://api.example/', params: { audience: 'api' } });
    await tokens.getToken(contextFor(as.fetch));
    await tokens.getToken(contextFor(as.fetch));
    const forms = await Promise.all(as.seen.map(async (r) => new URLSearchParams(await r.clone().text())));
    expect(forms.map((f) => [f.get('grant_type'), f.get('resource'), f.get('audience')])).toEqual([
      ['authorization_code', 'https://api.example/', 'api'],
      ['refresh_token', 'https://api.example/', 'api'],
    ]);
  });

  it('the exchange sends the code, the redirect URI as given and the verifier, once', async () => {
    const as = recordingFetch(() => Response.json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 60 }));
    const redirectUri = 'https://app.example/cb?x=1&y';
    await source({ redirectUri }).getToken(contextFor(as.fetch));
    expect(Object.fromEntries(new URLSearchParams(await as.seen[0]!.text()))).toEqual({ grant_type: 'authorization_code', code: 'c-1', redirect_uri: redirectUri, code_verifier: VERIFIER, client_id: 'spa' });
  });

  it('exchanged without a refresh token → a renewal is ERR_TOKEN_RESPONSE (status 0) saying to log in again or register refresh_token; nothing sent', async () => {
    const as = recordingFetch(() => Response.json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 60 }));
    const tokens = source();
    await tokens.getToken(contextFor(as.fetch));
    const err = await caught(() => tokens.getToken(contextFor(as.fetch)));
    expect(err).toMatchObject({ name: 'TokenResponseError', code: 'ERR_TOKEN_RESPONSE', status: 0 });
    expect(err.message).toBe(
      'A new access token is needed, but the authorization code was already used and the token endpoint issued no refresh token with it. Start the login again (authorizationCode.start), or register the client for the refresh_token grant.',
    );
    expect(as.seen).toHaveLength(1);
  });

  it('refused with an HTTP status but no OAuth error (500) → the code is spent: a second call sends nothing', async () => {
    const as = recordingFetch(() => new Response('down', { status: 500 }));
    const tokens = source();
    expect(await caught(() => tokens.getToken(contextFor(as.fetch)))).toMatchObject({ code: 'ERR_TOKEN_RESPONSE', status: 500 });
    const err = await caught(() => tokens.getToken(contextFor(as.fetch)));
    expect(err.message).toBe('A new access token is needed, but the authorization code was already used and the token endpoint refused it. Start the login again (authorizationCode.start).');
    expect(as.seen).toHaveLength(1);
  });

  it('two calls while the exchange is in flight → one exchange, one token', async () => {
    let answer!: (response: Response) => void;
    const as = recordingFetch(() => new Promise<Response>((resolve) => (answer = resolve)));
    const tokens = source();
    const context = contextFor(as.fetch);
    const both = Promise.all([tokens.getToken(context), tokens.getToken(context)]);
    await expect.poll(() => as.seen.length).toBe(1);
    answer(Response.json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 60, refresh_token: 'rt-1' }));
    const [a, b] = await both;
    expect(a.accessToken).toBe('at-1');
    expect(b).toBe(a);
    expect(as.seen).toHaveLength(1);
  });
});
