// The error classes (src/errors.ts) as a caller meets them: `instanceof`, `name`, `code`, the
// OAuth fields, a `cause` only when there is one, and a `response` that logging never dumps.
import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { DPoPError, ErrorCode, OAuthError, TokenResponseError } from '../src/index.ts';

describe('DPoPError and its subclasses', () => {
  it('carry their code and message, and name their own class', () => {
    const err = new DPoPError('ERR_REDIRECT', 'went away');
    expect(err).toBeInstanceOf(Error);
    expect([err.name, err.code, err.message]).toEqual(['DPoPError', 'ERR_REDIRECT', 'went away']);
    expect(String(err)).toBe('DPoPError: went away');
    const oauth = new OAuthError('refused', { error: 'invalid_client', status: 401 });
    expect(oauth).toBeInstanceOf(DPoPError);
    expect([oauth.name, oauth.code]).toEqual(['OAuthError', 'ERR_OAUTH']);
    const token = new TokenResponseError('ERR_TOKEN_TYPE', 'bearer', 200);
    expect(token).toBeInstanceOf(DPoPError);
    expect([token.name, token.code, token.status, token.message]).toEqual(['TokenResponseError', 'ERR_TOKEN_TYPE', 200, 'bearer']);
    // A subclass of the caller's own names itself too.
    class AppError extends DPoPError {}
    expect(new AppError('ERR_DISCOVERY', 'x').name).toBe('AppError');
  });

  it('keep a cause only when one is given, even a falsy one', () => {
    expect('cause' in new DPoPError('ERR_TOKEN_NETWORK', 'x')).toBe(false);
    expect('cause' in new DPoPError('ERR_TOKEN_NETWORK', 'x', {})).toBe(false);
    expect('cause' in new DPoPError('ERR_TOKEN_NETWORK', 'x', { cause: undefined })).toBe(false);
    const reason = new TypeError('fetch failed');
    expect(new DPoPError('ERR_TOKEN_NETWORK', 'x', { cause: reason }).cause).toBe(reason);
    for (const falsy of [0, '', null, false]) expect(new DPoPError('ERR_TOKEN_NETWORK', 'x', { cause: falsy }).cause).toBe(falsy);
    expect(new TokenResponseError('ERR_TOKEN_NETWORK', 'x', 0, { cause: reason }).cause).toBe(reason);
  });

  it('hold the response without enumerating it (a log of the error never dumps a body)', () => {
    const response = new Response('a secret body', { status: 502 });
    const err = new TokenResponseError('ERR_TOKEN_RESPONSE', 'bad gateway', 502, { response });
    expect(err.response).toBe(response);
    expect(Object.keys(err)).not.toContain('response');
    expect(Object.getOwnPropertyDescriptor(err, 'response')).toMatchObject({ enumerable: false, writable: false, configurable: false });
    expect(JSON.stringify(err)).not.toContain('secret');
    expect(inspect(err)).not.toMatch(/response:|Response {/);
    expect(new DPoPError('ERR_REDIRECT', 'x').response).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(new DPoPError('ERR_REDIRECT', 'x'), 'response')).toMatchObject({ value: undefined, enumerable: false });
  });

  it('OAuthError: the fields of RFC 6749 §5.2, the status, and the response', () => {
    const response = Response.json({ error: 'invalid_grant' }, { status: 400 });
    const err = new OAuthError('refused', { error: 'invalid_grant', error_description: 'expired', error_uri: 'https://as.example/e', status: 400 }, response);
    expect({ error: err.error, error_description: err.error_description, error_uri: err.error_uri, status: err.status }).toEqual({ error: 'invalid_grant', error_description: 'expired', error_uri: 'https://as.example/e', status: 400 });
    expect(err.response).toBe(response);
    const bare = new OAuthError('refused', { error: 'invalid_client', status: 401 });
    expect([bare.error_description, bare.error_uri, bare.response]).toEqual([undefined, undefined, undefined]);
  });

  it('ErrorCode lists every code by name', () => {
    expect(ErrorCode).toEqual({
      KEY_IMPORT: 'ERR_KEY_IMPORT',
      OAUTH: 'ERR_OAUTH',
      TOKEN_RESPONSE: 'ERR_TOKEN_RESPONSE',
      TOKEN_TYPE: 'ERR_TOKEN_TYPE',
      NONCE_MISSING: 'ERR_NONCE_MISSING',
      BODY_NOT_REPLAYABLE: 'ERR_BODY_NOT_REPLAYABLE',
      TOKEN_REDIRECT: 'ERR_TOKEN_REDIRECT',
      TOKEN_NETWORK: 'ERR_TOKEN_NETWORK',
      REDIRECT: 'ERR_REDIRECT',
      KEY_STORE: 'ERR_KEY_STORE',
      LOGIN_REQUIRED: 'ERR_LOGIN_REQUIRED',
      DISCOVERY: 'ERR_DISCOVERY',
    });
  });
});
