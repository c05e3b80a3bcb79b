// Chromium, several tabs of one app (issue 16): the README's browser snippet (e2e/snippets/
// browser.ts, loaded by e2e/browser/tabs/page.ts) in pages of one origin in one browser context,
// against oidc-provider rotating refresh tokens with reuse detection on (a refresh token that
// comes back revokes the grant: the control below shows it) and the oauth4webapi resource
// server, with 2-second access tokens. What the servers saw comes from their own wire log.
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { startPeers, type Exchange, type Peers, type PeersOptions } from '../peers.mjs';
import type { Outcome, TabsConfig } from './tabs/page.ts';
import { bundlePage, startSite } from './site.mjs';

let site: Awaited<ReturnType<typeof startSite>>;
const started: Peers[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.beforeAll(async () => {
  site = await startSite(await bundlePage(new URL('./tabs/page.ts', import.meta.url)), { anyPath: true });
});
test.afterAll(async () => {
  await Promise.all(started.map((p) => p.close()));
  await site?.close();
});

type Seen = Exchange & { at: number };

async function peersFor(options: PeersOptions = {}) {
  const wire: Seen[] = [];
  const peers = await startPeers({
    authorizationCode: {},
    accessTokenTTL: 2,
    corsOrigins: [site.origin],
    onExchange: (e) => wire.push({ ...e, at: Date.now() }),
    ...options,
    clients: [{ client_id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [`${site.origin}/callback`], scope: 'api', dpop_bound_access_tokens: true }, ...(options.clients ?? [])],
  });
  started.push(peers);
  const config: TabsConfig = { issuer: peers.issuer, authorizationEndpoint: peers.authorizationEndpoint, tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', scope: 'api', apiOrigin: new URL(peers.apiUrl).origin, apiUrl: peers.apiUrl };
  /** Token requests (POST) from `from` on: form, status, answer. */
  const tokenRequests = (from = 0) =>
    wire
      .slice(from)
      .filter((e) => e.server === 'as' && e.url === peers.tokenEndpoint && e.method === 'POST')
      .map((e) => ({ form: Object.fromEntries(new URLSearchParams(e.requestBody)), status: e.status, body: JSON.parse(e.responseBody), at: e.at }));
  const apiRequests = (from = 0) => wire.slice(from).filter((e) => e.server === 'rs' && e.method !== 'OPTIONS');
  return { peers, wire, config, tokenRequests, apiRequests };
}

/** A tab on `path` with the app loaded (the snippet's createApp), `init` run before its script. */
async function openTab(context: BrowserContext, config: TabsConfig, path = '/'): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${site.origin}${path}`);
  await load(page, config);
  return page;
}

async function load(page: Page, config: TabsConfig): Promise<void> {
  await page.waitForFunction(() => window.tabs?.ready === true);
  await page.evaluate((c) => window.tabs.init(c), config);
}

/** "Sign in" in `page`: to the authorization server and back to /callback, then the first call (the code exchanged). */
async function signIn(page: Page, config: TabsConfig): Promise<Outcome> {
  await page.evaluate(() => void window.tabs.signIn());
  await page.waitForURL((url) => url.pathname === '/callback' && url.searchParams.has('code'));
  await load(page, config);
  return page.evaluate(() => window.tabs.call());
}

/** Three tabs, one signed in, the two others opened after: each has called once. */
async function signedInTabs(context: BrowserContext, config: TabsConfig, n = 3): Promise<Page[]> {
  const first = await openTab(context, config);
  expect(await signIn(first, config)).toMatchObject({ status: 200 });
  const others = [];
  for (let i = 1; i < n; i++) {
    const tab = await openTab(context, config);
    expect(await tab.evaluate(() => window.tabs.call())).toMatchObject({ status: 200 }); // from the store: no sign-in
    others.push(tab);
  }
  return [first, ...others];
}

/**
 * The refreshes the server granted, in order, whether they form a chain (each sends the refresh
 * token the grant before it received), and how many refresh tokens were sent again to be judged
 * (a nonce demand judges none).
 */
function refreshChain(tokenRequests: ReturnType<Awaited<ReturnType<typeof peersFor>>['tokenRequests']>) {
  const granted = tokenRequests.filter((x) => x.status === 200);
  const refreshes = granted.filter((x) => x.form.grant_type === 'refresh_token');
  const chained = refreshes.every((x) => x.form.refresh_token === granted[granted.indexOf(x) - 1]?.body.refresh_token);
  const judged = tokenRequests.filter((x) => x.form.grant_type === 'refresh_token' && x.body.error !== 'use_dpop_nonce').map((x) => x.form.refresh_token);
  return { granted, refreshes, chained, reused: judged.length - new Set(judged).size };
}

test.describe('the tabs of one app share one token and take turns refreshing (indexedDbStore)', () => {
  test('three tabs, one sign-in, ≥ 10 renewals of 2-second tokens: one refresh per renewal, no refresh token twice, no invalid_grant, every call 200 in every tab', async ({ context }) => {
    const { config, tokenRequests, apiRequests } = await peersFor();
    const tabs = await signedInTabs(context, config);
    const from = tokenRequests().length;
    const calls = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.loop(13_000, 80))));
    const outcomes = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.outcomes())));
    for (const [i, tab] of outcomes.entries()) {
      expect(tab.filter((o) => o.status !== 200), `tab ${i}`).toEqual([]);
      expect(tab.length, `tab ${i}`).toBeGreaterThan(50);
    }
    const seen = tokenRequests(from);
    // Only nonce demands besides the refreshes: no invalid_grant, nothing else.
    expect(seen.filter((x) => x.status !== 200).map((x) => x.body.error)).toEqual(seen.filter((x) => x.status !== 200).map(() => 'use_dpop_nonce'));
    const { refreshes, chained, reused } = refreshChain(tokenRequests());
    expect(refreshes.length).toBeGreaterThanOrEqual(10);
    expect(chained).toBe(true);
    expect(reused).toBe(0);
    // One refresh per renewal: each renewal happened in one tab (its `token` event), and every
    // access token issued was used at the API (but the last, if the run ended first).
    const events = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.events())));
    const renewals = events.map((list) => list.filter((e) => e.type === 'token').length);
    expect(renewals.reduce((x, y) => x + y)).toBe(refreshes.length + 1); // and the code exchange
    const used = new Set(apiRequests().filter((e) => e.status === 200).map((e) => String(e.requestHeaders.authorization).slice(5)));
    expect(refreshes.slice(0, -1).filter((x) => !used.has(x.body.access_token))).toEqual([]);
    expect(events.flat().filter((e) => e.type === 'store-error')).toEqual([]);
    const byTab = renewals.map((n, i) => (i === 0 ? n - 1 : n)); // the first tab's first token came from the code
    console.log(`three tabs: ${calls.join(' + ')} calls, all 200; ${refreshes.length} renewals, ${refreshes.length} refreshes (by tab: ${byTab.join(', ')}), 0 reused, ${seen.filter((x) => x.status !== 200).length} nonce demands`);
  });

  test('the control, the recipe before: each tab refreshing on its own from the one refresh token → it comes back, the server revokes the grant, calls fail', async ({ context }) => {
    const { config, tokenRequests } = await peersFor();
    const tabs = await signedInTabs(context, config);
    for (const tab of tabs) await tab.evaluate((c) => window.tabs.perTab(c), config);
    await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.loop(4000, 80))));
    const failed = (await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.outcomes())))).flat().filter((o) => o.status !== 200);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]).toMatchObject({ code: 'ERR_OAUTH' });
    expect(refreshChain(tokenRequests()).reused).toBeGreaterThan(0);
    expect(tokenRequests().some((x) => x.body.error === 'invalid_grant')).toBe(true);
  });

  test('the tab holding the lock is closed in the middle of a refresh: another takes over at once (within the lock\'s bound), no call fails, no refresh token is used twice', async ({ context }) => {
    const { peers, config, tokenRequests } = await peersFor();
    const tabs = await signedInTabs(context, config);
    const loops = tabs.map((tab) => tab.evaluate(() => window.tabs.loop(9000, 80)).catch(() => 'closed'));
    await sleep(2500); // a few renewals in
    const hold = peers.holdNextToken();
    await hold.arrived;
    // The tab whose refresh is held: the one with a token request in flight.
    let holder: Page | undefined;
    while (!holder) {
      for (const tab of tabs) if ((await tab.evaluate(() => window.tabs.inflight())) > 0) holder = tab;
    }
    const closedTabOutcomes = await holder.evaluate(() => window.tabs.outcomes());
    const closedAt = Date.now();
    await holder.close();
    await hold.gone;
    expect(await hold.release()).toBe('dropped'); // it never reached the server: the refresh token was not spent
    await Promise.all(loops);
    const rest = tabs.filter((tab) => tab !== holder);
    const outcomes = (await Promise.all(rest.map((tab) => tab.evaluate(() => window.tabs.outcomes())))).flat();
    expect([...closedTabOutcomes, ...outcomes].filter((o) => o.status !== 200)).toEqual([]);
    const { refreshes, chained, reused } = refreshChain(tokenRequests());
    expect(chained).toBe(true);
    expect(reused).toBe(0);
    expect(tokenRequests().filter((x) => x.status !== 200 && x.body.error !== 'use_dpop_nonce')).toEqual([]);
    const takeover = refreshes.find((x) => x.at > closedAt)!;
    const lockBound = 30_000 + 1_000; // tokenTimeout + 1 s: the TTL of the lock
    expect(takeover.at - closedAt).toBeLessThan(lockBound);
    expect(takeover.at - closedAt).toBeLessThan(3000); // a Web Lock is freed as its tab closes
    const waited = outcomes.filter((o) => o.at > closedAt).length;
    console.log(`lock holder closed mid-refresh: its request dropped unread; another tab refreshed ${takeover.at - closedAt} ms later with the same refresh token; ${outcomes.length} calls in the two others, ${waited} after the close, all 200`);
  });

  test('a reload of every tab resumes with the stored key and refresh token: no new sign-in, one refresh for the three', async ({ context }) => {
    const { config, wire, tokenRequests } = await peersFor();
    const tabs = await signedInTabs(context, config);
    const before = await tabs[0]!.evaluate(() => window.tabs.call());
    await sleep(2100); // every access token has expired: the reloaded tabs must refresh
    const from = wire.length;
    for (const tab of tabs) {
      await tab.reload();
      await load(tab, config);
    }
    const after = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.call())));
    expect(after.map((o) => o.status)).toEqual([200, 200, 200]);
    expect(after.map((o) => o.jkt)).toEqual([before.jkt, before.jkt, before.jkt]); // the key came back from IndexedDB
    expect(wire.slice(from).filter((e) => e.server === 'as' && new URL(e.url).pathname === '/auth')).toEqual([]); // no sign-in
    const seen = tokenRequests(from).filter((x) => x.status === 200);
    expect(seen.map((x) => x.form.grant_type)).toEqual(['refresh_token']);
    expect(seen[0]!.form.refresh_token).toBe(refreshChain(tokenRequests()).granted.at(-2)!.body.refresh_token); // the stored, newest one
  });

  test('sign-out in one tab: the next calls of every tab reject with ERR_LOGIN_REQUIRED and no request reaches the API with a token, even in a tab that was in the back-forward cache', async ({ context }) => {
    // Tokens that stay fresh: only the sign-out can stop a tab from using the one it holds.
    const { config, wire } = await peersFor({ accessTokenTTL: 60 });
    const [a, b, c] = await signedInTabs(context, config);
    // d and e miss every message (a stand-in for what a page kept in the back-forward cache, or
    // frozen, may miss); d then sleeps in the back-forward cache, e stays awake.
    const deaf = () => {
      window.BroadcastChannel = class {
        onmessage = null;
        postMessage() {}
        close() {}
        addEventListener() {}
        removeEventListener() {}
      } as unknown as typeof BroadcastChannel;
    };
    const [d, e] = [await context.newPage(), await context.newPage()];
    for (const tab of [d, e]) {
      await tab.addInitScript(deaf);
      await tab.goto(`${site.origin}/`);
      await load(tab, config);
      expect(await tab.evaluate(() => window.tabs.call())).toMatchObject({ status: 200 });
    }
    await d.evaluate(() => ((window as unknown as { before: boolean }).before = true));
    await d.goto(`${site.origin}/elsewhere`);

    const from = wire.length;
    await a.evaluate(() => window.tabs.signOut());
    const after: Outcome[] = [];
    for (const tab of [a, b, c]) for (let i = 0; i < 2; i++) after.push(await tab.evaluate(() => window.tabs.call()));
    expect(after.map((o) => [o.status, o.code])).toEqual(Array(6).fill([0, 'ERR_LOGIN_REQUIRED']));
    await d.goBack({ waitUntil: 'commit' }); // back from the cache: no load, the same document
    await d.waitForFunction(() => window.tabs?.ready === true);
    expect(await d.evaluate(() => (window as unknown as { before?: boolean }).before)).toBe(true);
    expect(await d.evaluate(() => window.tabs.call())).toMatchObject({ status: 0, code: 'ERR_LOGIN_REQUIRED' });
    expect(wire.slice(from).filter((x) => x.method !== 'OPTIONS')).toEqual([]); // nothing reached either server
    // Each tab's first call after the sign-out says so; the next (the app connects again) finds no session.
    expect(after[2]!.message).toMatch(/^The user signed out \(deleteKeyPair, in this tab or another\).*no request was sent with a token\. Sign in again\.$/);
    expect(after[3]!.message).toMatch(/^There is no refresh token .* the store keeps none for this key and client \(signed out, or not signed in yet\)\. Sign the user in/);

    // The control: e missed the message as d did, but did not sleep: it still uses the fresh
    // token it holds, so what stopped d is the look it took at the stored key on coming back.
    expect(await e.evaluate(() => window.tabs.call())).toMatchObject({ status: 200 });
    expect(wire.slice(from).filter((x) => x.server === 'rs' && x.method !== 'OPTIONS')).toHaveLength(1);
  });
});

test.describe('where the browser lacks what the tabs use: never a failed call', () => {
  test('no Web Locks (browsers before 2022): the tabs take turns with a lease in IndexedDB; one refresh per renewal, every call 200', async ({ context }) => {
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }));
    const { config, tokenRequests } = await peersFor();
    const tabs = await signedInTabs(context, config);
    expect(await tabs[0]!.evaluate(() => 'locks' in navigator && navigator.locks !== undefined)).toBe(false);
    await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.loop(6000, 80))));
    const outcomes = (await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.outcomes())))).flat();
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    const { refreshes, chained, reused } = refreshChain(tokenRequests());
    expect(refreshes.length).toBeGreaterThanOrEqual(4);
    expect([chained, reused]).toEqual([true, 0]);
    // Each tab is told, once, that it works in a lesser way here; nothing else went wrong.
    for (const tab of tabs) {
      const errors = (await tab.evaluate(() => window.tabs.events())).filter((e) => e.type === 'store-error');
      expect(errors).toEqual([{ type: 'store-error', operation: 'lock', reason: 'degraded', detail: expect.stringMatching(/^no Web Locks in this browser: the tabs take turns with a lease/) }]);
    }
  });

  test('IndexedDB refused (a private window of some browsers): each tab on its own, a store-error says why, every call 200', async ({ context }) => {
    await context.addInitScript(() => {
      IDBFactory.prototype.open = () => {
        throw new DOMException('A mutation operation was attempted on a database that did not allow mutations.', 'InvalidStateError');
      };
    });
    const { peers, config, tokenRequests } = await peersFor();
    const secretClient = { clientId: peers.clientId, clientSecret: peers.clientSecret };
    const tabs = [await context.newPage(), await context.newPage()];
    for (const tab of tabs) {
      await tab.goto(`${site.origin}/`);
      await tab.waitForFunction(() => window.tabs?.ready === true);
      await tab.evaluate((c) => window.tabs.withoutIndexedDb(c), { ...config, secretClient });
    }
    await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.loop(2500, 80))));
    const outcomes = (await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabs.outcomes())))).flat();
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    for (const tab of tabs) {
      const errors = (await tab.evaluate(() => window.tabs.events())).filter((e) => e.type === 'store-error');
      expect(errors[0]).toMatchObject({ type: 'store-error', reason: 'error', error: 'DPoPError ERR_KEY_STORE' });
    }
    expect(tokenRequests().filter((x) => x.status === 200).length).toBeGreaterThanOrEqual(2); // each tab its own
  });
});
