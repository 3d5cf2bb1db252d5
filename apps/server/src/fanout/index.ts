import { LOCAL_FANOUT, type Fanout } from './fanout';
import { openRedisFanout } from './redis-fanout';

export { LOCAL_FANOUT, type Fanout } from './fanout';

/**
 * The fan-out for this process, picked once at start-up: in-memory without `redisUrl` (one
 * process, the default), the sharded Redis adapter + aggregated live figures with it.
 *
 * @example const fanout = await openFanout(config.redisUrl, backend.gatewayId, (e) => errors.report('live.cluster', e));
 */
export async function openFanout(
  redisUrl: string | null,
  gatewayId: string,
  onError?: (err: unknown) => void,
): Promise<Fanout> {
  if (redisUrl === null) return LOCAL_FANOUT;
  return openRedisFanout({ redisUrl, gatewayId, onError });
}
