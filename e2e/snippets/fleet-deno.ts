// Deno and Deno Deploy, many isolates or regions: one key from one secret, one token and the
// servers' nonces shared through Deno KV (`deno run --unstable-kv`, or Deno Deploy's KV).
import { clientCredentials, createDPoPFetch, importKeyPair } from 'dpop-fetch';
import { denoKvStore } from 'dpop-fetch/store';

export async function createFleetApi(config: { tokenEndpoint: string; clientId: string; clientSecret: string }, kvPath?: string) {
  // DPOP_KEY: the same PEM everywhere (`deno run --allow-env=DPOP_KEY,CLIENT_SECRET ...`).
  const keyPair = await importKeyPair(Deno.env.get('DPOP_KEY')!);
  const kv = await Deno.openKv(kvPath); // no path on Deno Deploy: the project's global KV
  const tokens = clientCredentials({ ...config, scope: 'api' });
  return { keyPair, kv, api: createDPoPFetch({ keyPair, tokens, store: denoKvStore(kv) }) };
}

// const { api } = await createFleetApi({ tokenEndpoint: 'https://as.example/token', clientId: 'm2m.dpop', clientSecret: Deno.env.get('CLIENT_SECRET')! });
// const res = await api('https://api.example/things');
