// The real peers (e2e/peers.mjs: oidc-provider + an oauth4webapi resource server) in a child
// process, so that a test measuring its own heap measures the client and nothing else, and the
// servers get a core of their own. Started by peers-process.ts over an IPC channel: it answers
// `stats` with what the servers saw and `close` by stopping them and exiting.
import { startPeers } from '../../e2e/peers.mjs';

const options = JSON.parse(process.argv[2] ?? '{}');

function fresh() {
  return {
    tokenRequests: 0,
    tokensIssued: 0,
    apiRequests: 0,
    apiStatuses: /** @type {Record<string, number>} */ ({}),
    /** access token -> requests to the API that carried it */
    tokensUsed: /** @type {Record<string, number>} */ ({}),
    issued: /** @type {string[]} */ ([]),
    /** when each was issued, ms since the epoch */
    issuedAt: /** @type {number[]} */ ([]),
    proofs: 0,
    duplicateJtis: 0,
  };
}
let stats = fresh();
const jtis = new Set();

/** @param {string | string[] | undefined} proof */
function jtiOf(proof) {
  if (typeof proof !== 'string') return undefined;
  try {
    return JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString('utf8')).jti;
  } catch {
    return undefined;
  }
}

const peers = await startPeers({
  ...options,
  onExchange(exchange) {
    const jti = jtiOf(exchange.requestHeaders.dpop);
    if (jti !== undefined) {
      stats.proofs++;
      if (jtis.has(jti)) stats.duplicateJtis++;
      jtis.add(jti);
    }
    if (exchange.server === 'as' && new URL(exchange.url).pathname === '/token') {
      stats.tokenRequests++;
      if (exchange.status === 200) {
        stats.tokensIssued++;
        stats.issued.push(JSON.parse(exchange.responseBody).access_token);
        stats.issuedAt.push(Date.now());
      }
    } else if (exchange.server === 'rs') {
      stats.apiRequests++;
      stats.apiStatuses[exchange.status] = (stats.apiStatuses[exchange.status] ?? 0) + 1;
      const token = /^DPoP (.+)$/.exec(String(exchange.requestHeaders.authorization ?? ''))?.[1];
      if (token) stats.tokensUsed[token] = (stats.tokensUsed[token] ?? 0) + 1;
    }
  },
});

process.on('disconnect', () => process.exit(0)); // never outlive the test
process.on('message', async (/** @type {{ type: string }} */ message) => {
  if (message.type === 'stats') process.send?.({ type: 'stats', stats });
  if (message.type === 'reset') {
    stats = fresh();
    process.send?.({ type: 'reset' });
  }
  if (message.type === 'close') {
    await peers.close();
    process.exit(0);
  }
});
const { issuer, tokenEndpoint, resource, apiUrl, echoUrl, clientId, clientSecret, scope } = peers;
process.send?.({ type: 'ready', peers: { issuer, tokenEndpoint, resource, apiUrl, echoUrl, clientId, clientSecret, scope } });
