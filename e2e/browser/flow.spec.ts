// Chromium: a page on its own origin (e2e/browser/site.mjs) runs the shared flow against the
// real peers on two other origins, so CORS is real; its key lives in IndexedDB and survives a
// reload. Also the CORS pitfall (DPoP-Nonce not exposed) and the
// key store's paths: key present, absent, corrupt, foreign database, bad arguments.
import { expect, test, type Page } from '@playwright/test';
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { startPeers, type Peers, type PeersOptions } from '../peers.mjs';
import { FLOW_PEERS } from '../snippets/flow.mjs';
import { bundlePage, startSite } from './site.mjs';
import type { Client } from './page.ts';

let site: Awaited<ReturnType<typeof startSite>>;
const started: Peers[] = [];

test.beforeAll(async () => {
  site = await startSite(await bundlePage());
});
test.afterAll(async () => {
  await Promise.all(started.map((p) => p.close()));
  await site?.close();
});

async function peersFor(options: PeersOptions = {}): Promise<Peers> {
  const peers = await startPeers({ ...FLOW_PEERS, corsOrigins: [site.origin], ...options });
  started.push(peers);
  return peers;
}

function client(peers: Peers): Client {
  return { tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, apiUrl: peers.apiUrl };
}

async function openApp(page: Page) {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${site.origin}/`);
  await page.waitForFunction(() => window.e2e?.ready === true);
  return errors;
}

test.describe('the full flow in Chromium, key in IndexedDB', () => {
  test('token and API calls with nonces over real CORS, renewal, then the same key after a reload', async ({ page }) => {
    const peers = await peersFor();
    for (const url of [peers.tokenEndpoint, peers.apiUrl]) expect(new URL(url).origin).not.toBe(site.origin);
    const errors = await openApp(page);

    const first = await page.evaluate((c) => window.e2e.flow(c), client(peers));
    expect(first.result.calls.filter((c) => c.status !== 200)).toEqual([]);
    expect(first.result.tokenIds).toHaveLength(2); // renewed once, no request failed
    expect(first.result.jkts).toEqual([first.thumbprint]); // cnf.jkt, as oauth4webapi validated it
    expect(first.events.filter((e: any) => e.type === 'nonce-retry').slice(0, 2)).toEqual([
      { type: 'nonce-retry', server: 'token', url: peers.tokenEndpoint },
      { type: 'nonce-retry', server: 'resource', url: peers.apiUrl },
    ]);
    expect(first.events.filter((e: any) => e.type === 'token').map((e: any) => e.renewal)).toEqual([false, true]);
    expect(first.privateKeyExtractable).toBe(false);
    expect(first.privateKeyExportable).toBe(false); // crypto.subtle.exportKey rejects

    await page.reload();
    await page.waitForFunction(() => window.e2e?.ready === true);
    const second = await page.evaluate((c) => window.e2e.flow(c), client(peers));
    expect(second.thumbprint).toBe(first.thumbprint); // the key came back from IndexedDB
    expect(second.result.calls.filter((c) => c.status !== 200)).toEqual([]);
    expect(second.result.jkts).toEqual([first.thumbprint]); // new tokens bound to the same key
    expect(second.privateKeyExportable).toBe(false); // still non-extractable after the structured clone
    expect(errors).toEqual([]);
  });

  test('a token endpoint that hides DPoP-Nonce from CORS: ERR_NONCE_MISSING naming Access-Control-Expose-Headers', async ({ page }) => {
    const peers = await peersFor({ exposeNonce: false });
    await openApp(page);
    const failure = await page.evaluate((c) => window.e2e.callFails(c), client(peers));
    expect(failure).toMatchObject({ isDPoPError: true, code: 'ERR_NONCE_MISSING' });
    expect(failure!.message).toContain('token endpoint');
    expect(failure!.message).toContain('Access-Control-Expose-Headers');
    expect(peers.counts.token).toBe(1); // never retried blind
  });

  test('a resource server that hides DPoP-Nonce from CORS: ERR_NONCE_MISSING naming Access-Control-Expose-Headers', async ({ page }) => {
    const peers = await peersFor({ rsExposeNonce: false });
    await openApp(page);
    const failure = await page.evaluate((c) => window.e2e.callFails(c), client(peers));
    expect(failure).toMatchObject({ isDPoPError: true, code: 'ERR_NONCE_MISSING' });
    expect(failure!.message).toContain('resource server');
    expect(failure!.message).toContain('Access-Control-Expose-Headers');
    expect(peers.counts).toEqual({ token: 2, api: 1 }); // the token came; the API call was not retried blind
  });
});

test.describe('the IndexedDB key store', () => {
  test('no key yet: one is created, stored and returned again, non-extractable, and signs verifiable proofs', async ({ page }) => {
    await openApp(page);
    const r = await page.evaluate(() => window.e2e.keystore.fresh('fresh'));
    expect(r.before).toBe(true);
    expect(r.again).toBe(r.created);
    expect(r.got).toBe(r.created);
    expect(r.exportable).toBe(false);
    expect(r.reloadedExportable).toBe(false);
    expect(r.verifies).toBe(true);
  });

  test('a key already stored is the one returned', async ({ page }) => {
    await openApp(page);
    const r = await page.evaluate(() => window.e2e.keystore.existing('existing'));
    expect(r.loaded).toBe(r.stored);
    expect(r.verifies).toBe(true);
  });

  for (const kind of ['string', 'null', 'empty-object', 'not-keys', 'public-only', 'extractable', 'p384', 'rsa', 'mismatched']) {
    test(`a corrupt entry (${kind}) is ignored and replaced by a new working key`, async ({ page }) => {
      await openApp(page);
      const r = await page.evaluate((k) => window.e2e.keystore.corrupt(k), kind);
      expect(r.got).toBeNull();
      expect(r.replaced).toBe(true);
      expect(r.verifies).toBe(true);
      expect(r.exportable).toBe(false);
      expect(r.persisted).toBe(true);
      // The halves of the mismatched pair really do not belong together: jose refuses its proof.
      if (kind === 'mismatched') expect(r.corruptVerifies).toBe(false);
    });
  }

  test("a database of that name without our stores (other code's, another version) gets them added in one upgrade", async ({ page }) => {
    await openApp(page);
    const r = await page.evaluate(() => window.e2e.keystore.foreignDatabase('foreign'));
    expect(r.same).toBe(true);
    expect(r.after.version).toBe(4);
    expect(r.after.stores.sort()).toEqual(['keys', 'shared', 'unrelated']);
  });

  test("a 'keys' store it cannot write to fails with ERR_KEY_STORE saying what to do", async ({ page }) => {
    await openApp(page);
    const failure = await page.evaluate(() => window.e2e.keystore.keyPathStore('keypath'));
    expect(failure).toMatchObject({ isDPoPError: true, code: 'ERR_KEY_STORE' });
    expect(failure!.message).toContain('keep the key in memory');
  });

  test('deleteKeyPair removes the key', async ({ page }) => {
    await openApp(page);
    expect(await page.evaluate(() => window.e2e.keystore.deleted('gone'))).toBe(true);
  });

  test('bad arguments are TypeErrors with codes', async ({ page }) => {
    await openApp(page);
    const r = await page.evaluate(() => window.e2e.keystore.badArguments());
    expect(r.name).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(r.name!.message).toContain('"options.name"');
    expect(r.extractable).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(r.extractable!.message).toContain('"keyPair.privateKey" must be non-extractable');
    expect(r.factory).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});

test.describe('encrypted keys in Chromium\'s WebCrypto', () => {
  test('AES-256-CBC and AES-128-CBC decrypt to OpenSSL\'s key; AES-192-CBC, which Chromium lacks, is ERR_KEY_IMPORT giving the openssl command', async ({ page }) => {
    await openApp(page);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const expected = await calculateJwkThumbprint(ec.publicKey.export({ format: 'jwk' }) as JWK);
    const pem = (cipher: string) => ec.privateKey.export({ format: 'pem', type: 'pkcs8', cipher, passphrase: 'pw' }) as string;
    for (const cipher of ['aes-256-cbc', 'aes-128-cbc']) {
      expect(await page.evaluate(([key]) => window.e2e.importEncrypted(key!, 'pw'), [pem(cipher)])).toEqual({ thumbprint: expected, refused: null });
    }
    const r = await page.evaluate(([key]) => window.e2e.importEncrypted(key!, 'pw'), [pem('aes-192-cbc')]);
    expect(r.thumbprint).toBeNull();
    expect(r.refused).toEqual({
      name: 'DPoPError',
      code: 'ERR_KEY_IMPORT',
      isDPoPError: true,
      message: "Cannot import the key: the key is encrypted with AES-192-CBC, which this runtime's WebCrypto does not have. Convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key.p8.pem`.",
    });
  });
});
