/** The Redis scheduling store's options and their defaults. */
export interface RedisSchedulingOptions {
  /** This gateway's consumer name in the group; unique per live process. */
  gatewayId: string;
  /**
   * How many unfinished tasks this gateway wants to hold (queued + running): reads ask for the
   * difference. Wire it to the idle capacity of the local volunteers. @defaultValue `maxBatch`
   */
  demand?: () => number;
  /** Most entries claimed per read (`XREADGROUP COUNT`). @defaultValue 256 */
  maxBatch?: number;
  /** Liveness key TTL; a dead gateway's entries move after about this long. @defaultValue 5000 */
  livenessTtlMs?: number;
  /** How often this gateway tries to be the janitor. @defaultValue half the liveness TTL */
  janitorEveryMs?: number;
  /** `XAUTOCLAIM` backstop: entries idle this long move whatever their owner. @defaultValue 10 min */
  backstopIdleMs?: number;
  /** Longest blocking read (`XREADGROUP BLOCK`). @defaultValue 1000 */
  blockMs?: number;
  /** How often surplus cached tasks are checked (and given back after two checks). @defaultValue 1000 */
  surplusEveryMs?: number;
  /** How often held jobs are checked for a cancel this gateway missed. @defaultValue 5000 */
  cancelCheckEveryMs?: number;
  /** Background Redis errors (they are retried; this only reports them). */
  onError?: (where: string, err: unknown) => void;
}

/** Options with every default applied. */
export type ResolvedOptions = Required<Omit<RedisSchedulingOptions, 'demand' | 'onError'>> &
  Pick<RedisSchedulingOptions, 'demand' | 'onError'>;

export function resolveOptions(options: RedisSchedulingOptions): ResolvedOptions {
  const ttl = options.livenessTtlMs ?? 5000;
  return {
    gatewayId: options.gatewayId,
    demand: options.demand,
    maxBatch: options.maxBatch ?? 256,
    livenessTtlMs: ttl,
    janitorEveryMs: options.janitorEveryMs ?? Math.max(100, ttl / 2),
    backstopIdleMs: options.backstopIdleMs ?? 600_000,
    blockMs: options.blockMs ?? 1000,
    surplusEveryMs: options.surplusEveryMs ?? 1000,
    cancelCheckEveryMs: options.cancelCheckEveryMs ?? 5000,
    onError: options.onError ?? (() => {}),
  };
}
