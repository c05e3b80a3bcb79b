// A store of one user's session (DPoPStore.checkSession, issue 16) as createDPoPFetch leans on
// it: asked before every request that uses a token, its sign-out stops the request before
// anything is sent, and its failures never fail one; and the rule that keeps one user's tokens
// from another: a user's source shares through a store only when the store is one user's or the
// session is named. The fake servers (test/support/fleet-servers.ts) count every exchange. The
// same against indexedDbStore in Chromium: e2e/browser/tabs.spec.ts.
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { clientCredentials, createDPoPFetch, DPoPError, generateKeyPair, refreshToken, type DPoPEvent, type DPoPStore, type TokenSource } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';
import { caught } from '../helpers.ts';
import { API, fleetServers, TOKEN_ENDPOINT } from '../support/fleet-servers.ts';

const keyPair = await generateKeyPair();
const jkt = await jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK);
const signedOut = () => new DPoPError('ERR_LOGIN_REQUIRED', 'signed out');
const credentials = () => clientCredentials({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'app', clientSecret: 's', scope: 'api' });

/** A memoryStore whose checkSession does what `check` says, and counts its calls. */
function sessionStore(check: (jkt: string) => void | Promise<void>) {
  const store = memoryStore();
  const seen: string[] = [];
  return {
    seen,
    store: { get: store.get, set: store.set, delete: store.delete, lock: store.lock, checkSession: (thumb: string) => (seen.push(thumb), check(thumb)) } satisfies DPoPStore,
  };
}

describe('checkSession: asked before a token is used', () => {
  it('asked with the key\'s thumbprint before every request, answering at once: no store round trip added', async () => {
    const servers = fleetServers();
    const { store, seen } = sessionStore(() => {});
    const api = createDPoPFetch({ keyPair, tokens: credentials(), store, fetch: servers.fetch });
    for (let i = 0; i < 5; i++) expect((await api(API)).status).toBe(200);
    expect(seen).toEqual(Array(5).fill(jkt));
    // Without a token source there is no token to hold back, and it is not asked.
    const bare = createDPoPFetch({ keyPair, store, fetch: servers.fetch });
    await bare(API);
    expect(seen).toHaveLength(5);
  });

  it('signed out (thrown, or a promise rejected) → ERR_LOGIN_REQUIRED, and nothing is sent: no token request, no API request', async () => {
    const ways = [
      () => {
        throw signedOut();
      },
      () => Promise.reject(signedOut()),
    ];
    for (const signOut of ways) {
      let out = false;
      const servers = fleetServers();
      const { store } = sessionStore(() => (out ? signOut() : undefined));
      const api = createDPoPFetch({ keyPair, tokens: credentials(), store, fetch: servers.fetch });
      expect((await api(API)).status).toBe(200);
      servers.reset();
      out = true;
      const failure = await caught(() => api(API));
      expect(failure).toBeInstanceOf(DPoPError);
      expect(failure).toMatchObject({ code: 'ERR_LOGIN_REQUIRED' });
      expect(servers.log).toEqual([]);
    }
  });

  it('a check that throws something else, rejects, or hangs is the store failing: reported, and the request goes on', async () => {
    const failures: Array<[() => void | Promise<void>, string]> = [
      [() => { throw new TypeError('boom'); }, 'error'],
      [() => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNRESET' })), 'error'],
      [() => new Promise<void>(() => {}), 'timeout'],
    ];
    for (const [check, reason] of failures) {
      const servers = fleetServers();
      const events: DPoPEvent[] = [];
      const { store } = sessionStore(check);
      const api = createDPoPFetch({ keyPair, tokens: credentials(), store, fetch: servers.fetch, onEvent: (e) => events.push(e) });
      expect((await api(API)).status).toBe(200);
      expect(events.filter((e) => e.type === 'store-error')).toEqual([expect.objectContaining({ operation: 'session', reason })]);
      expect(JSON.stringify(events)).not.toContain('boom');
    }
  });

  it('a pending check ends with the caller\'s signal', async () => {
    const servers = fleetServers();
    const { store } = sessionStore(() => new Promise<void>(() => {}));
    const api = createDPoPFetch({ keyPair, tokens: credentials(), store, fetch: servers.fetch });
    const controller = new AbortController();
    const pending = api(API, { signal: controller.signal });
    controller.abort(new DOMException('stop', 'AbortError'));
    expect(await caught(() => pending)).toMatchObject({ name: 'AbortError' });
    expect(servers.log).toEqual([]);
  });
});

describe("a user's tokens, one key, one store", () => {
  const userSource = (): TokenSource => ({ ...refreshToken({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'app', refreshToken: 'rt' }) });

  it('through a store of many users (no checkSession): not shared, each instance its own token, and one store-error (refused) each', async () => {
    const servers = fleetServers();
    const store = memoryStore();
    const events: DPoPEvent[] = [];
    const apis = [0, 1].map(() => createDPoPFetch({ keyPair, tokens: userSource(), store, fetch: servers.fetch, onEvent: (e) => events.push(e) }));
    for (const api of apis) expect((await api(API)).status).toBe(200);
    expect(servers.issued).toHaveLength(2);
    expect(events.filter((e) => e.type === 'store-error')).toEqual([
      { type: 'store-error', operation: 'set', reason: 'refused', detail: expect.stringMatching(/a user's tokens .* not one user's: each instance keeps its own; name the session/) },
      expect.objectContaining({ reason: 'refused' }),
    ]);
    // The nonces are still shared: the second instance's first API request needed no retry.
    expect(servers.apiRequests).toBe(3);
  });

  it('through a store of one user\'s session (checkSession): shared, one token for both', async () => {
    const servers = fleetServers();
    const { store } = sessionStore(() => {});
    const apis = [0, 1].map(() => createDPoPFetch({ keyPair, tokens: userSource(), store, fetch: servers.fetch }));
    for (const api of apis) expect((await api(API)).status).toBe(200);
    expect(servers.issued).toHaveLength(1);
  });

  it('a source of any other kind (client credentials, or one of your own with an identity) is shared through any store, as before', async () => {
    const servers = fleetServers();
    const store = memoryStore();
    const events: DPoPEvent[] = [];
    const apis = [0, 1].map(() => createDPoPFetch({ keyPair, tokens: credentials(), store, fetch: servers.fetch, onEvent: (e) => events.push(e) }));
    for (const api of apis) expect((await api(API)).status).toBe(200);
    expect(servers.issued).toHaveLength(1);
    expect(events.filter((e) => e.type === 'store-error')).toEqual([]);
  });
});
