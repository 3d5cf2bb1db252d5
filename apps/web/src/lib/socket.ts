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
  transports: ['websocket', 'polling'],
  reconnection: true,
  reconnectionDelay: 500,
  reconnectionDelayMax: 5000,
};

/** Same origin (the Node server, or Vite's dev proxy). Not connected until `.connect()`. */
export function createLiveSocket(): LiveSocket {
  const auth: LiveAuth = { protocolVersion: PROTOCOL_VERSION };
  return io(NAMESPACES.live, { ...common, autoConnect: false, auth });
}
