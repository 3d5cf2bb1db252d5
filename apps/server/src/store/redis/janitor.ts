import type { Redis } from 'ioredis';
import { KEYS } from './keys';
import type { RedisMeter } from './meter';
import { parseEntries, type Entry } from './stream-claims';

export interface JanitorOptions {
  /** How long one sweep holds the janitor lock. */
  lockMs: number;
  /** Backstop: entries pending this long anywhere are claimed (`XAUTOCLAIM`), dead gateway or not. */
  backstopIdleMs: number;
  /** Entries moved per command. */
  batch: number;
}

type ConsumerInfo = (string | number)[];

/** Deletes the lock only if this gateway still holds it. */
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Moves the stream entries of dead gateways to this one. Any live gateway may run it; a lock
 * (`SET NX PX`) makes one sweep at a time. A gateway is dead when its liveness key expired: its
 * pending entries (`XPENDING`) are claimed (`XCLAIM`) and it leaves the group. `XAUTOCLAIM` with
 * a long idle time is the backstop for entries a live gateway lost track of.
 */
export class Janitor {
  constructor(
    private readonly redis: Redis,
    private readonly gatewayId: string,
    private readonly options: JanitorOptions,
    private readonly meter: RedisMeter,
  ) {}

  /** One sweep (nothing when another gateway holds the lock). Returns the entries now ours. */
  async sweep(): Promise<Entry[]> {
    const locked = await this.redis.set(KEYS.janitorLock, this.gatewayId, 'PX', this.options.lockMs, 'NX');
    this.meter.roundTrip();
    if (locked !== 'OK') return [];
    try {
      return await this.sweepLocked();
    } finally {
      await this.redis.eval(UNLOCK, 1, KEYS.janitorLock, this.gatewayId);
      this.meter.roundTrip();
    }
  }

  private async sweepLocked(): Promise<Entry[]> {
    const claimed: Entry[] = [];
    const consumers = (await this.redis.xinfo('CONSUMERS', KEYS.stream, KEYS.group)) as ConsumerInfo[];
    this.meter.roundTrip();
    for (const info of consumers) {
      const name = String(info[info.indexOf('name') + 1]);
      const pending = Number(info[info.indexOf('pending') + 1]);
      if (name === this.gatewayId) continue;
      const alive = await this.redis.exists(KEYS.alive(name));
      this.meter.roundTrip();
      if (alive) continue;
      claimed.push(...(await this.takeOver(name, pending)));
    }
    claimed.push(...(await this.backstop()));
    return claimed;
  }

  /** Claims every pending entry of a dead consumer, then removes it from the group. */
  private async takeOver(dead: string, pending: number): Promise<Entry[]> {
    const claimed: Entry[] = [];
    let left = pending;
    while (left > 0) {
      const rows = (await this.redis.xpending(
        KEYS.stream,
        KEYS.group,
        '-',
        '+',
        this.options.batch,
        dead,
      )) as [string, string, number, number][];
      this.meter.roundTrip();
      if (rows.length === 0) break;
      const raw = (await this.redis.xclaim(
        KEYS.stream,
        KEYS.group,
        this.gatewayId,
        0,
        ...rows.map((r) => r[0]),
      )) as [string, string[] | null][];
      this.meter.roundTrip();
      const entries = parseEntries(raw);
      // Entries deleted from the stream are not returned by XCLAIM: acknowledge them.
      const got = new Set(entries.map((e) => e.entryId));
      const gone = rows.map((r) => r[0]).filter((id) => !got.has(id));
      if (gone.length > 0) {
        await this.redis.xack(KEYS.stream, KEYS.group, ...gone);
        this.meter.roundTrip();
      }
      claimed.push(...entries);
      left -= rows.length;
    }
    await this.redis.xgroup('DELCONSUMER', KEYS.stream, KEYS.group, dead);
    this.meter.roundTrip();
    return claimed;
  }

  private async backstop(): Promise<Entry[]> {
    const res = (await this.redis.xautoclaim(
      KEYS.stream,
      KEYS.group,
      this.gatewayId,
      this.options.backstopIdleMs,
      '0-0',
      'COUNT',
      this.options.batch,
    )) as [string, [string, string[] | null][], string[]?];
    this.meter.roundTrip();
    const deleted = res[2] ?? [];
    if (deleted.length > 0) {
      await this.redis.xack(KEYS.stream, KEYS.group, ...deleted);
      this.meter.roundTrip();
    }
    return parseEntries(res[1]).filter((e) => e.taskId !== '');
  }
}
