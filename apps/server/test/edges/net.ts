/**
 * Clients on distinct loopback networks (issue 17): 127.0.1.x and 127.0.2.x are different /24s,
 * so per-network limits can be tested on one host with `TABGRID_DISTINCT_NETWORKS` on.
 */
import http from 'node:http';
import { PROTOCOL_VERSION } from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';

/** An HTTP agent whose connections leave from `localAddress` (e.g. '127.0.1.7'). */
export const agentFrom = (localAddress: string) => new http.Agent({ localAddress, keepAlive: false });

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request through node:http, URL sent exactly as given (fetch would normalize a
 * malformed one), from `localAddress` when given.
 */
export function rawRequest(
  url: string,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    localAddress?: string;
  } = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname,
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Connects a raw Socket.IO client to `nsp` from `localAddress`; resolves it, or the refusal. */
export function connectFrom(
  url: string,
  nsp: string,
  localAddress: string,
  auth: Record<string, unknown> = {},
): Promise<{ socket: Socket; error: null } | { socket: Socket; error: Error & { data?: { code: string } } }> {
  const socket = io(`${url}${nsp}`, {
    auth: { protocolVersion: PROTOCOL_VERSION, ...auth },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    agent: agentFrom(localAddress) as never,
  });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket, error: null }));
    socket.once('connect_error', (error: Error & { data?: { code: string } }) => resolve({ socket, error }));
  });
}
