import { createShardedAdapter } from '@socket.io/redis-adapter';
import { NAMESPACES } from '@tabgrid/protocol';
import type { Redis } from 'ioredis';
import { Adapter } from 'socket.io-adapter';
import { connectRedis } from '../redis/connection';
import { ClusterStats } from './cluster-stats';
import type { AdapterFactory, Fanout } from './fanout';

/** Prefix of the adapter's sharded pub/sub channels (`tg:sio#/live#job:ID#`, …). */
export const FANOUT_CHANNEL_PREFIX = 'tg:sio';

export interface RedisFanoutOptions {
  redisUrl: string;
  /** This gateway's id (the field of its live figures). */
  gatewayId: string;
  /** How long a gateway's published figures count, ms. @defaultValue 5000 */
  statsTtlMs?: number;
  /** Where a failed figures exchange goes (retried at the next tick). */
  onError?: (err: unknown) => void;
}

/**
 * Fan-out across gateways sharing one Redis 7 (ARCHITECTURE.md "Fan-out"):
 *
 * - `/live` uses the **sharded** Redis adapter (`SPUBLISH`/`SSUBSCRIBE`, Redis 7 sharded
 *   pub/sub): with `subscriptionMode: 'dynamic'` every public room (`job:ID`, `owner:NAME`) has
 *   its own channel, which a gateway subscribes to only while one of its sockets is in the room,
 *   and in a Redis Cluster channels spread over the shards by hash slot. A job update emitted on
 *   gateway 1 reaches a watcher on gateway 3.
 * - `/volunteer` keeps the in-memory adapter: a volunteer's traffic is its own socket on its own
 *   gateway (offers, acks, results; the leases live in that gateway's memory) and nothing is ever
 *   broadcast to volunteers, so a Redis adapter there would only add subscriptions.
 * - Live figures: {@link ClusterStats}.
 *
 * Two extra connections per gateway: one publishes (adapter + figures), one is the subscriber.
 */
export async function openRedisFanout(options: RedisFanoutOptions): Promise<Fanout> {
  // The publisher fails fast while Redis is away instead of queueing: the adapter awaits its
  // publish before delivering to this gateway's own sockets, so a queued publish would hold local
  // viewers' updates until Redis is back. Cross-gateway pushes are at most once anyway (pub/sub);
  // `job:update` carries the whole view, so the next one repairs what a watcher missed; a
  // `job:changes` watcher sees its counts disagree and watches again (PROTOCOL.md L12).
  const pub = connectRedis(options.redisUrl, 'fanout-pub', { enableOfflineQueue: false });
  // The subscriber queues (its SSUBSCRIBEs wait for the connection) and resubscribes on reconnect.
  const sub = connectRedis(options.redisUrl, 'fanout-sub');
  for (const conn of [pub, sub]) reportOutages(conn, options.onError);
  await Promise.all([ready(pub), sub.ping()]);
  const sharded = createShardedAdapter(pub, sub, {
    channelPrefix: FANOUT_CHANNEL_PREFIX,
    subscriptionMode: 'dynamic',
  }) as AdapterFactory;
  // Socket.IO calls the factory with `new`: a function expression, not an arrow function.
  const adapter: AdapterFactory = function adapterFor(nsp) {
    return nsp.name === NAMESPACES.live ? sharded(nsp) : new Adapter(nsp);
  };
  const stats = new ClusterStats(pub, options.gatewayId, {
    ttlMs: options.statsTtlMs,
    onError: options.onError,
  });
  return {
    kind: 'redis',
    adapter,
    combine: (own) => stats.combine(own),
    hasMembers: async (room, localSize) =>
      localSize > 0 ||
      pub
        .call('PUBSUB', 'SHARDNUMSUB', roomChannel(NAMESPACES.live, room))
        .then((reply) => Number((reply as [string, number])[1] ?? 0) > 0)
        .catch(() => false),
    async close() {
      await stats.withdraw().catch(() => {});
      sub.disconnect();
      pub.disconnect();
    },
  };
}

/** The adapter's sharded channel of `room` in `nsp` (`subscriptionMode: 'dynamic'`). */
export const roomChannel = (nsp: string, room: string) => `${FANOUT_CHANNEL_PREFIX}#${nsp}#${room}#`;

/** Reports a connection's first error after each time it was ready (not every retry of an outage). */
function reportOutages(redis: Redis, onError: ((err: unknown) => void) | undefined): void {
  let reported = false;
  redis.on('ready', () => (reported = false));
  redis.on('error', (err: unknown) => {
    if (!reported) onError?.(err);
    reported = true;
  });
}

/** Resolves once `redis` is connected (it keeps retrying meanwhile, as every connection does). */
function ready(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => redis.once('ready', () => resolve()));
}
