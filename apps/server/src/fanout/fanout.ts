import type { LiveStats } from '@tabgrid/protocol';
import type { Namespace } from 'socket.io';
import type { Adapter } from 'socket.io-adapter';

/** Builds the adapter of one namespace (Socket.IO's `adapter` server option; called with `new`). */
export type AdapterFactory = (nsp: Namespace) => Adapter;

/**
 * How `/live` reaches viewers connected to other gateway processes (ARCHITECTURE.md "Fan-out").
 * One process: nothing to do ({@link LOCAL_FANOUT}). Several gateways on one Redis
 * (`TABGRID_REDIS_URL`): the sharded Redis adapter carries broadcasts, and each gateway publishes
 * its live figures for the others to add up (`redis-fanout.ts`). Picked once, by `openFanout`.
 */
export interface Fanout {
  /** `local` (one process) or `redis` (gateways sharing a Redis). */
  readonly kind: 'local' | 'redis';
  /** The Socket.IO adapter for the server (undefined: Socket.IO's in-memory one). */
  readonly adapter: AdapterFactory | undefined;
  /**
   * The live wall's figures: this gateway's own snapshot combined with the other live gateways'
   * latest ones. Synchronous (it runs in the stats tick and in `live:snapshot`); publishing this
   * gateway's snapshot and reading the others' happens in the background.
   */
  combine(own: LiveStats): LiveStats;
  /**
   * Whether a room of the live namespace has members on any gateway, so that reading and sending
   * what it would get is worth it: its local size in one process; across gateways, a local member
   * or another gateway subscribed to the room's channel (`PUBSUB SHARDNUMSUB`, one pipelined
   * command). False while Redis is away (nothing could be sent to other gateways anyway).
   */
  hasMembers(room: string, localSize: number): Promise<boolean>;
  /** Stops publishing, withdraws this gateway's figures, closes its Redis connections. */
  close(): Promise<void>;
}

/** One process: in-memory adapter, its own figures, local rooms. */
export const LOCAL_FANOUT: Fanout = {
  kind: 'local',
  adapter: undefined,
  combine: (own) => own,
  hasMembers: async (_room, localSize) => localSize > 0,
  close: async () => {},
};
