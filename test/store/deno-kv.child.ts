// One Deno instance of a fleet, for test/store/deno-kv.test.ts: opens the KV file it is given,
// makes denoKvStore(kv) from src/ (type-checked by `deno run --check` against Deno's own
// Deno.Kv), and serves store calls, one JSON line each on stdin, answering on stdout.
import { denoKvStore } from '../../src/store/index.ts';
import { decode, encode, storeServer } from '../support/remote-store.mjs';

const kv: Deno.Kv = await Deno.openKv(Deno.args[0]);
const serve = storeServer(denoKvStore(kv));
const out = Deno.stdout.writable.getWriter();
const encoder = new TextEncoder();
let writing = Promise.resolve();

let buffered = '';
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffered += chunk;
  let end: number;
  while ((end = buffered.indexOf('\n')) !== -1) {
    const { id, call } = decode(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    // Calls run concurrently, as an instance's requests do; answers go out one line at a time.
    void serve(call).then((answer) => (writing = writing.then(() => out.write(encoder.encode(`${encode({ id, ...answer })}\n`)))));
  }
}
kv.close();
