// npm run demo [-- --decode]: the whole DPoP flow on this machine, with no internet.
//
// It starts a real authorization server (oidc-provider: client_credentials, DPoP with nonces
// required) and a DPoP-protected API (validates tokens and proofs with oauth4webapi and
// demands its own nonce) on 127.0.0.1, then calls the API with dpop-fetch, imported from the
// built package as a user would. Every HTTP exchange is printed as the servers saw it, with
// credentials redacted, then the API's answer. A second call shows the steady state: one
// round trip. With --decode, each DPoP proof's header and claims are printed too (never its
// signature). With --discover, the client is given no endpoint at all: it finds the
// authorization server from the API (RFC 9728, then RFC 8414), with `dpop-fetch/discovery`.
// Exits 0 when everything worked, 1 when it did not, 2 for an unknown argument.
import { startPeers } from './peers.mjs';
import { calculateThumbprint, clientCredentials, createDPoPFetch, generateKeyPair } from '../dist/index.js';
import { clientCredentials as discoveringClientCredentials } from '../dist/discovery.js';
import { decodeProof, describeEvent, formatExchange } from '../dist/cli/log.js';

const OPTIONS = ['--decode', '--discover'];
const args = process.argv.slice(2);
const decode = args.includes('--decode');
const discover = args.includes('--discover');
const unknown = args.find((arg) => !OPTIONS.includes(arg));
if (unknown !== undefined) {
  process.stderr.write(`demo: unknown argument ${unknown}; the options are --decode and --discover (npm run demo -- --decode --discover)\n`);
  process.exit(2);
}

const print = (text = '') => process.stdout.write(`${text}\n`);
const CLIENT = { clientId: 'm2m.dpop', clientSecret: 'secret', scope: 'api' };

let exchanges = 0;

const peers = await startPeers({
  onExchange(entry) {
    const dpop = entry.requestHeaders.dpop;
    let proof;
    if (decode && typeof dpop === 'string') {
      // Decoded from the DPoP header as the server received it (claims and header only).
      proof = decodeProof(dpop);
    }
    process.stdout.write(formatExchange(++exchanges, entry, { secrets: [CLIENT.clientSecret], proof }));
  },
});

try {
  const keyPair = await generateKeyPair();
  const thumbprint = await calculateThumbprint(keyPair);
  const api = createDPoPFetch({
    keyPair,
    tokens: discover ? discoveringClientCredentials(CLIENT) : clientCredentials({ tokenEndpoint: peers.tokenEndpoint, ...CLIENT }),
    onEvent(event) {
      const text = describeEvent(event);
      if (text) print(`* ${text}`);
    },
  });

  print('dpop-fetch demo: OAuth 2.0 DPoP (RFC 9449), everything on this machine');
  print(`  authorization server  ${peers.issuer}  (oidc-provider; client_credentials; DPoP nonces required)`);
  print(`  API                   ${peers.apiUrl}  (oauth4webapi; demands its own DPoP nonce)`);
  print(`  client key            new P-256 key pair, thumbprint ${thumbprint}`);
  print();
  if (discover) {
    print("  import { clientCredentials } from 'dpop-fetch/discovery'; // no endpoint: found from the API");
    print(`  const api = createDPoPFetch({ keyPair, tokens: clientCredentials({ clientId: '${CLIENT.clientId}',`);
    print(`    clientSecret: '${CLIENT.clientSecret}', scope: '${CLIENT.scope}' }) });`);
  } else {
    print('  const api = createDPoPFetch({ keyPair, tokens: clientCredentials({ tokenEndpoint,');
    print(`    clientId: '${CLIENT.clientId}', clientSecret: '${CLIENT.clientSecret}', scope: '${CLIENT.scope}' }) });`);
  }
  print('  const res = await api(apiUrl);');
  print();

  print(
    discover
      ? "=== Call 1: first contact (the API's 401 names its metadata, which names the authorization server; then the token) ==="
      : '=== Call 1: first contact (token endpoint and API each demand a nonce) ===',
  );
  const first = await api(peers.apiUrl);
  const claims = await first.json();
  const firstExchanges = exchanges;
  print();
  print(`=== The API's answer: HTTP ${first.status}, the access token's claims as the API validated them ===`);
  const list = Array.isArray(claims) ? claims : [];
  const width = Math.max(0, ...list.map((c) => String(c.type).length));
  for (const { type, value } of list) {
    const note = type === 'cnf' ? '   <- bound to our key: jkt is its thumbprint' : '';
    print(`  ${String(type).padEnd(width)}  ${value}${note}`);
  }
  print();

  print('=== Call 2: the same request again (steady state) ===');
  const second = await api(peers.apiUrl);
  await second.body?.cancel();
  const secondExchanges = exchanges - firstExchanges;
  print();

  const jkt = JSON.parse(list.find((c) => c.type === 'cnf')?.value ?? '{}').jkt;
  const problems = [
    first.status !== 200 && `call 1 answered HTTP ${first.status}`,
    second.status !== 200 && `call 2 answered HTTP ${second.status}`,
    jkt !== thumbprint && `the token's cnf.jkt (${jkt}) is not our key's thumbprint`,
  ].filter(Boolean);
  print(`Summary: call 1 took ${firstExchanges} HTTP exchanges, call 2 took ${secondExchanges}; cnf.jkt ${jkt === thumbprint ? '=' : '!='} our key's thumbprint.`);
  if (problems.length) {
    process.stderr.write(`demo: FAILED: ${problems.join('; ')}\n`);
    process.exitCode = 1;
  }
} catch (err) {
  process.stderr.write(`demo: FAILED: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
} finally {
  await peers.close();
}
