// `dpop-fetch/indexeddb`, the browser's entry point: the key store, and the store of an app's
// tabs. Re-exports only.
export { deleteKeyPair, getKeyPair, loadOrCreateKeyPair, putKeyPair } from './key-store.ts';
export type { KeyStoreOptions } from './key-store.ts';
export { indexedDbStore } from './tab-store.ts';
export type { TabStoreOptions } from './tab-store.ts';
