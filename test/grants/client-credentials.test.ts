// clientCredentials (src/grants/client-credentials.ts): its argument checks, before any request.
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
