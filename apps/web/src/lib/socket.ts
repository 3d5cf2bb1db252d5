/**
 * The page's typed Socket.IO client for `/live`. Event names and payloads come
 * from @tabgrid/protocol only. (The volunteer's socket lives in its worker:
 * `features/volunteer/worker`, via @tabgrid/volunteer-client.)
 */
import {
  NAMESPACES,
  PROTOCOL_VERSION,
  type LiveAuth,
  type LiveClientToServer,
  type LiveServerToClient,
} from '@tabgrid/protocol';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';

export type LiveSocket = Socket<LiveServerToClient, LiveClientToServer>;

const common: Partial<ManagerOptions & SocketOptions> = {
  // WebSocket first (works behind any L4 load balancer without sticky sessions); long-polling only
  // where a WebSocket cannot be opened, which behind several gateways needs sticky sessions
  // (docs/DEPLOY.md). Volunteers never poll (packages/volunteer-client).
  transports: ['websocket', 'polling'],
  tryAllTransports: true,
  reconnection: true,
  reconnectionDelay: 500,
  reconnectionDelayMax: 5000,
};

/**
 * The `/live` socket, same origin (the Node server, or Vite's dev proxy); not connected until
 * `.connect()`. `apiKey`: a signed-in requester also gets its own jobs' results and may watch them.
 */
export function createLiveSocket(apiKey: string | null = null): LiveSocket {
  const auth: LiveAuth = { protocolVersion: PROTOCOL_VERSION, ...(apiKey ? { apiKey } : {}) };
  return io(NAMESPACES.live, { ...common, autoConnect: false, auth });
}
