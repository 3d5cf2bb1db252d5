import type { Redis } from 'ioredis';
import { KEYS } from './keys';
import type { RedisMeter } from './meter';

/**
 * A gateway's liveness key (`tg:gw:ID:alive`, TTL `ttlMs`), renewed every third of its TTL. When
 * the gateway dies the key expires and the janitor hands its stream entries to live gateways.
 */
export class Liveness {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly gatewayId: string,
    private readonly ttlMs: number,
    private readonly meter: RedisMeter,
    private readonly onError: (err: unknown) => void,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => this.beat().catch(this.onError), Math.max(100, this.ttlMs / 3));
    this.timer.unref();
  }

  /** Stops renewing; `release` also deletes the key (a graceful exit needs no TTL wait). */
  async stop(release: boolean): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (release) await this.redis.del(KEYS.alive(this.gatewayId));
  }

  private async beat(): Promise<void> {
    await this.redis.set(KEYS.alive(this.gatewayId), String(Date.now()), 'PX', this.ttlMs);
    this.meter.roundTrip();
  }
}
