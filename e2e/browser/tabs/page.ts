// The app of many tabs: the README's browser snippet (e2e/snippets/browser.ts) as each tab of
// the tabs suite runs it. Playwright drives it through `window.tabs.*`: calls, loops of calls,
// and what happened, as plain data. Token requests are marked while in flight, so the suite
// can tell which tab is refreshing. `perTab` is the recipe this replaces (each tab its own
// refresh token from localStorage), for the control.
import { clientCredentials, createDPoPFetch, generateKeyPair, refreshToken, type DPoPEvent } from 'dpop-fetch';
import { indexedDbStore, loadOrCreateKeyPair } from 'dpop-fetch/indexeddb';
import { createApp, type AppConfig } from '../../snippets/browser.ts';

export interface TabsConfig extends AppConfig {
  apiUrl: string;
}

/** One call to the API as the app saw it. */
export interface Outcome {
  status: number;
  /** A DPoPError's code (or the error's name) when the call rejected. */
  code?: string;
  message?: string;
  /** The token's cnf.jkt, as the API validated it. */
  jkt?: string;
  at: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let config: TabsConfig;
let api: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
let app: ReturnType<typeof createApp>;
const outcomes: Outcome[] = [];
const events: DPoPEvent[] = [];
let inflight = 0;

const urlOf = (input: RequestInfo | URL) => (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
/** The page's fetch, which counts token requests while they are in flight. */
async function send(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const toAs = urlOf(input).startsWith(config.tokenEndpoint);
  if (toAs) inflight++;
  try {
    return await fetch(input, init);
  } finally {
    if (toAs) inflight--;
  }
}
const options = () => ({ onEvent: (e: DPoPEvent) => void events.push(e), fetch: send });

/** Loads the app in this tab (after every navigation). */
function init(c: TabsConfig): void {
  config = c;
  app = createApp(c, options());
  api = app.api;
}

async function call(): Promise<Outcome> {
  const at = Date.now();
  try {
    const res = await api(config.apiUrl);
    if (!res.ok) return void (await res.body?.cancel()), { status: res.status, at };
    const claims = Object.fromEntries(((await res.json()) as Array<{ type: string; value: string }>).map((c) => [c.type, c.value]));
    return { status: res.status, jkt: JSON.parse(claims.cnf ?? '{}').jkt, at };
  } catch (err) {
    const { name, code, message } = err as Error & { code?: string };
    return { status: 0, code: code ?? name, message, at };
  }
}

/** Calls the API every `every` ms for `ms`; every outcome is kept (see `outcomes`). */
async function loop(ms: number, every: number): Promise<number> {
  const until = Date.now() + ms;
  let n = 0;
  for (; Date.now() < until; n++) {
    outcomes.push(await call());
    await sleep(every);
  }
  return n;
}

/** The refresh token the tabs keep, read from IndexedDB without dpop-fetch. */
function storedRefreshToken(): Promise<string> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('dpop-fetch');
    open.onsuccess = () => {
      const all = open.result.transaction('shared').objectStore('shared').openCursor();
      all.onsuccess = () => {
        const entry = all.result;
        if (!entry) return reject(new Error('no refresh token stored'));
        const [name, key] = entry.key as [string, string];
        if (name === 'my-app' && key.endsWith(' refresh')) return resolve(JSON.parse((entry.value as { value: string }).value).rt);
        entry.continue();
      };
    };
  });
}

/**
 * The control: the recipe before issue 16, each tab with its own token and refresh token (the
 * one in localStorage when the tab started, replaced there on each rotation), no store.
 */
async function perTab(c: TabsConfig): Promise<void> {
  config = c;
  if (!localStorage.getItem('rt')) localStorage.setItem('rt', await storedRefreshToken());
  const tokens = refreshToken({ tokenEndpoint: c.tokenEndpoint, clientId: c.clientId, refreshToken: localStorage.getItem('rt')!, onRefreshToken: (rt) => localStorage.setItem('rt', rt) });
  api = createDPoPFetch({ keyPair: await loadOrCreateKeyPair({ name: 'my-app' }), tokens, allowedOrigins: [c.apiOrigin], ...options() });
}

/** A tab where IndexedDB refuses (it was taken away): a key in memory, client credentials, the store failing. */
async function withoutIndexedDb(c: TabsConfig & { secretClient: { clientId: string; clientSecret: string } }): Promise<void> {
  config = c;
  const tokens = clientCredentials({ tokenEndpoint: c.tokenEndpoint, ...c.secretClient, scope: 'api' });
  api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens, store: indexedDbStore({ name: 'my-app' }), allowedOrigins: [c.apiOrigin], ...options() });
}

const tabs = {
  init,
  perTab,
  withoutIndexedDb,
  signIn: () => app.signIn(),
  signOut: () => app.signOut(),
  call,
  loop,
  outcomes: () => outcomes,
  events: () => events,
  inflight: () => inflight,
  ready: true as const,
};

declare global {
  interface Window {
    tabs: typeof tabs;
  }
}
window.tabs = tabs;
