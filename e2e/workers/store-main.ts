// The Worker the store tests run in (e2e/workers/store.test.ts): it exports DPoPStoreObject,
// as a user's Worker would, so that the LOCAL_STORE binding can be inspected from the tests.
export { DPoPStoreObject } from 'dpop-fetch/store';

export default {
  async fetch(): Promise<Response> {
    return new Response('dpop-fetch store tests', { status: 404 });
  },
};
