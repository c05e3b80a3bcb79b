// clientCredentials (src/grants/client-credentials.ts): its argument check, before any request, and
// the identity it gives for sharing a token (issue 15).
// Its requests against oidc-provider are in grants.peers.test.ts and fetch.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { clientCredentials } from '../../src/index.ts';

describe('clientCredentials: arguments', () => {
  it('options that are not an object are a TypeError naming "options", before anything else is read', () => {
    for (const options of [undefined, null, 42, 'https://as.example/token', [{ tokenEndpoint: 'https://as.example/token', clientId: 'c' }]]) {
      expect(() => clientCredentials(options as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: '"options" must be an object' }));
    }
  });
});

describe('clientCredentials: identity (what instances sharing a store compare)', () => {
  const identity = (options: Record<string, unknown>) => clientCredentials({ tokenEndpoint: 'https://as.example/token', clientId: 'c', clientSecret: 'a-Secret-1', ...options }).identity;

  it('names the token endpoint, the client and the form sent, never the secret; another scope or client is another identity', () => {
    const base = identity({ scope: 'api' });
    expect(base).toBe('https://as.example/token c grant_type=client_credentials&scope=api');
    expect(base).not.toContain('a-Secret-1');
    expect(identity({ scope: 'api', clientSecret: 'another' })).toBe(base);
    expect(identity({ scope: 'admin' })).not.toBe(base);
    expect(identity({ scope: 'api', clientId: 'd' })).not.toBe(base);
  });
});
