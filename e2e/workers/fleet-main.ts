// The Worker the fleet tests run in (e2e/workers/fleet.test.ts). The fleet itself is four other
// Workers, each in its own isolate: the README's fleet Worker, bundled by fleet-setup.mjs.
export default {
  async fetch(): Promise<Response> {
    return new Response('dpop-fetch fleet tests', { status: 404 });
  },
};
