// clientCredentials of dpop-fetch/discovery (src/grants/discovered.ts): its argument check and
// the identity it gives for sharing a token (issue 15), which names where its tokens come from.
// Its requests against oidc-provider are in discovered.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { clientCredentials } from '../../src/discovery.ts';

describe('clientCredentials (discovery): arguments and identity', () => {
  it('options that are not an object → TypeError naming "options"', () => {
    for (const options of [undefined, 42, 'https://as.example']) {
      expect(() => clientCredentials(options as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: '"options" must be an object' }));
    }
  });

  it('names the token endpoint when given (over the issuer), else the issuer; with neither, none: its tokens are for whichever API it is used with', () => {
    const identity = (options: Record<string, unknown>) => clientCredentials({ clientId: 'app', clientSecret: 's', scope: 'api', ...options }).identity;
    expect(identity({ tokenEndpoint: 'https://as.example/token' })).toBe('https://as.example/token app grant_type=client_credentials&scope=api');
    expect(identity({ tokenEndpoint: 'https://as.example/token', issuer: 'https://as.example' })).toBe('https://as.example/token app grant_type=client_credentials&scope=api');
    expect(identity({ issuer: 'https://as.example' })).toBe('https://as.example app grant_type=client_credentials&scope=api');
    expect(identity({})).toBeUndefined();
  });
});
