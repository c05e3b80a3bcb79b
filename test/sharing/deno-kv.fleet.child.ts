// One Deno instance of a fleet, for test/sharing/deno-kv.fleet.test.ts: it runs the README's
// Deno snippet (e2e/snippets/fleet-deno.ts, on src/ through the import map, type-checked by
// `deno run --check` against Deno's own types) on the KV file it is given, says "ready", waits
// for a line on stdin, calls the API a few times, and prints what the API said as one JSON line.
import { createFleetApi } from '../../e2e/snippets/fleet-deno.ts';

const config = JSON.parse(Deno.env.get('DPOP_FLEET')!) as { tokenEndpoint: string; clientId: string; clientSecret: string; apiUrl: string; calls: number };
const { api, kv } = await createFleetApi(config, Deno.args[0]);
console.log('ready');
await Deno.stdin.readable.getReader().read(); // "go"
const results: Array<{ status: number; jti?: string; jkt?: string }> = [];
for (let i = 0; i < config.calls; i++) {
  const response = await api(config.apiUrl);
  if (response.status !== 200) {
    results.push({ status: response.status });
    await response.body?.cancel();
    continue;
  }
  const claims = Object.fromEntries(((await response.json()) as Array<{ type: string; value: string }>).map((c) => [c.type, c.value]));
  results.push({ status: 200, jti: claims.jti, jkt: JSON.parse(claims.cnf!).jkt });
}
console.log(JSON.stringify(results));
kv.close();
