// Starts the real peers in a child process (see peers-process.mjs) and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Peers, PeersOptions } from '../../e2e/peers.d.mts';

/** The plain fields of {@link Peers} that cross the IPC channel. */
export type RemotePeers = Pick<Peers, 'issuer' | 'tokenEndpoint' | 'resource' | 'apiUrl' | 'echoUrl' | 'clientId' | 'clientSecret' | 'scope'>;

/** What the servers saw since the last reset. */
export interface PeerStats {
  /** Requests to the token endpoint, nonce retries included. */
  tokenRequests: number;
  /** 200 answers from the token endpoint. */
  tokensIssued: number;
  apiRequests: number;
  apiStatuses: Record<string, number>;
  /** Access token → API requests that carried it. */
  tokensUsed: Record<string, number>;
  /** Access tokens issued, in order. */
  issued: string[];
  /** When each was issued (ms since the epoch), in the same order. */
  issuedAt: number[];
  /** Proofs seen on either server, and how many repeated a jti seen before (since start). */
  proofs: number;
  duplicateJtis: number;
}

export interface PeersProcess {
  peers: RemotePeers;
  stats(): Promise<PeerStats>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string } & Record<string, unknown>) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as T);
    };
    const onExit = (code: number | null) => (cleanup(), reject(new Error(`the peers process exited (${code}) before answering "${type}"`)));
    const cleanup = () => (child.off('message', onMessage), child.off('exit', onExit));
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Starts e2e/peers.mjs in its own Node process (no vitest flags) and waits until it listens. */
export async function startPeersProcess(options: PeersOptions = {}): Promise<PeersProcess> {
  const script = fileURLToPath(new URL('./peers-process.mjs', import.meta.url));
  const child = fork(script, [JSON.stringify(options)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { peers } = await next<{ peers: RemotePeers }>(child, 'ready');
  return {
    peers,
    async stats() {
      const answer = next<{ stats: PeerStats }>(child, 'stats');
      child.send({ type: 'stats' });
      return (await answer).stats;
    },
    async reset() {
      const answer = next(child, 'reset');
      child.send({ type: 'reset' });
      await answer;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'close' });
      await exited;
    },
  };
}
