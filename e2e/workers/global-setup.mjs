// @ts-check
// Runs in Node before the workerd tests: starts the real peers on 127.0.0.1 and hands their
// URLs to the Worker's bindings (vitest `provide` → `inject` in vitest.config.ts).
import { startPeers } from '../peers.mjs';
import { FLOW_PEERS } from '../snippets/flow.mjs';

/** @param {import('vitest/node').TestProject} project */
export default async function setup(project) {
  const peers = await startPeers(FLOW_PEERS);
  project.provide('tokenEndpoint', peers.tokenEndpoint);
  project.provide('clientId', peers.clientId);
  project.provide('clientSecret', peers.clientSecret);
  project.provide('apiOrigin', new URL(peers.apiUrl).origin);
  project.provide('apiPath', new URL(peers.apiUrl).pathname);
  return () => peers.close();
}
