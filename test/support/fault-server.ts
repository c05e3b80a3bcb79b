// A fault-injecting HTTP server for tests: node:http on 127.0.0.1, port 0. Each path gets a
// handler that may answer anything, hang, or drop the connection; every request is recorded
// (method, URL, headers, body) so tests can count attempts and grep what was sent where.
// Proofs are judged with jose, never with our own code.
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import * as jose from 'jose';
import { HOST, listen, stop } from '../../e2e/loopback.mjs';

/** One request as the server received it. */
export interface Recorded {
  method: string;
  /** Absolute URL (this server's origin + the request target). */
  url: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The raw header lines, exactly as sent (names and values). */
  rawHeaders: string[];
  body: string;
}

export interface Context {
  request: Recorded;
  /** 1-based count of requests to this path so far, this one included. */
  n: number;
  res: http.ServerResponse;
  req: http.IncomingMessage;
  server: FaultServer;
}

export type Handler = (ctx: Context) => void | Promise<void>;

export interface FaultServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  url(path: string): string;
  /** Every request so far, on every path. */
  requests: Recorded[];
  /** Requests to one path (pathname, no query), or all of them. */
  count(path?: string): number;
  /** Sets (or replaces) the handler of a path. Unknown paths answer 404. */
  on(path: string, handler: Handler): void;
  close(): Promise<void>;
}

/**
 * Starts a server with the given handlers, keyed by pathname.
 * Handlers that never answer are cut off by close(), which destroys every socket.
 */
export async function startFaultServer(handlers: Record<string, Handler> = {}): Promise<FaultServer> {
  const routes = new Map(Object.entries(handlers));
  const requests: Recorded[] = [];
  const perPath = new Map<string, number>();
  const sockets = new Set<Socket>();
  let origin = '';
  const server: http.Server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', origin);
      const request: Recorded = {
        method: req.method ?? 'GET',
        url: url.href,
        path: url.pathname,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      const n = (perPath.get(url.pathname) ?? 0) + 1;
      perPath.set(url.pathname, n);
      const handler = routes.get(url.pathname);
      if (!handler) {
        sendJson(res, 404, { error: 'not_found' });
        return;
      }
      Promise.resolve(handler({ request, n, res, req, server: api })).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fault-server handler threw: ${String(err)}`);
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  origin = `http://${HOST}:${await listen(server)}`;
  const api: FaultServer = {
    origin,
    url: (path) => new URL(path, origin).href,
    requests,
    count: (path) => (path === undefined ? requests.length : requests.filter((r) => r.path === path).length),
    on: (path, handler) => void routes.set(path, handler),
    close: () => {
      for (const socket of sockets) socket.destroy(); // handlers that never answer are cut off
      return stop(server);
    },
  };
  return api;
}

/** Answers with JSON (or any text when `body` is a string). */
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** Headers sent, part of the body written, then the socket destroyed: a connection dropped mid-answer. */
export function dropMidResponse(ctx: Context, partial = '{"access_token":"', status = 200): void {
  ctx.res.writeHead(status, { 'content-type': 'application/json', 'content-length': '1000' });
  ctx.res.write(partial);
  // Let the first bytes reach the client before the connection goes.
  setTimeout(() => ctx.req.socket.destroy(), 20);
}

/** The connection closed before any answer. */
export function dropBeforeResponse(ctx: Context): void {
  ctx.req.socket.destroy();
}

/** A fresh access token, different every call, easy to grep for. */
export function newToken(): string {
  return `tok-${randomBytes(18).toString('base64url')}`;
}

export function sha256b64url(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * Verifies the DPoP proof of a recorded request with jose: signature with the embedded key,
 * `typ`, `alg`, `htm` = the method, `htu` = this URL without query and fragment, `ath` for the
 * token in `Authorization` (when any). Throws when any of it is wrong.
 */
export async function verifyProofOf(request: Recorded): Promise<jose.JWTPayload & { jti: string; htu: string; nonce?: string }> {
  const proof = request.headers.dpop;
  if (typeof proof !== 'string') throw new Error(`no DPoP proof on ${request.method} ${request.url}`);
  const { payload } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
  const url = new URL(request.url);
  const expected = `${url.origin}${url.pathname}`;
  if (payload.htu !== expected) throw new Error(`htu ${String(payload.htu)} is not ${expected}`);
  if (payload.htm !== request.method) throw new Error(`htm ${String(payload.htm)} is not ${request.method}`);
  const token = /^DPoP (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if ((token === undefined) !== (payload.ath === undefined)) throw new Error('ath present without a token, or missing with one');
  if (token !== undefined && payload.ath !== sha256b64url(token)) throw new Error('ath does not match the token');
  return payload as jose.JWTPayload & { jti: string; htu: string; nonce?: string };
}

/** The token in a recorded request's `Authorization: DPoP …`, if any. */
export function tokenOf(request: Recorded): string | undefined {
  return /^(?:DPoP|Bearer) (.+)$/.exec(request.headers.authorization ?? '')?.[1];
}
