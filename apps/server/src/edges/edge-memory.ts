/**
 * What the edge defences remember (issue 17: the identity quota, failed sign-ins, networks whose
 * identities were quarantined or stalled, the networks that lost each task): counters in fixed
 * windows, marks that expire, and sets that expire. One interface, one implementation per backend,
 * one contract suite (`apps/server/test/contracts/edge-memory.test.ts`):
 *
 * - `LocalEdgeMemory` (SQLite, one process): in this process's memory, bounded;
 * - `RedisEdgeMemory` (`TABGRID_REDIS_URL`): in Redis, so every gateway counts and remembers the
 *   same, and an attacker gains nothing by spreading over gateways.
 *
 * Keys are the callers' names (`idn:<network>`, `lost:<taskId>`, …); each implementation keeps
 * windows, marks and sets apart. Times are the caller's clock (`now`); Redis expires keys by its own
 * clock, the same durations.
 */
export interface EdgeWindow {
  /** Events counted in the window so far (the one just counted included). */
  count: number;
  /** When the window ends (ms, the caller's clock). */
  endsAt: number;
}

export interface EdgeMemory {
  /**
   * `true`: other processes change this memory too (Redis), so a synchronous mirror of it may be
   * behind and is read again; `false`: this process sees every change (SQLite).
   */
  readonly shared: boolean;
  /**
   * Counts one event under `key` in a fixed window of `windowMs` that starts with its first event.
   * @example const { count, endsAt } = await memory.count('idn:10.0.1', 3_600_000, now);
   */
  count(key: string, windowMs: number, now: number): Promise<EdgeWindow>;
  /** The window of `key` now, or null when none is open. */
  peek(key: string, now: number): Promise<EdgeWindow | null>;
  /**
   * Raises the mark `key` to `value` for `ttlMs` (a lower value leaves a higher mark as it is; each
   * raise or repeat starts its `ttlMs` again).
   */
  raise(key: string, value: number, ttlMs: number, now: number): Promise<void>;
  /** The mark `key` now (0 when none or expired). */
  mark(key: string, now: number): Promise<number>;
  /**
   * Adds `member` to the set `key`, which expires `ttlMs` after its latest addition. Returns
   * whether it was new and every member now.
   */
  add(
    key: string,
    member: string,
    ttlMs: number,
    now: number,
  ): Promise<{ added: boolean; members: string[] }>;
  /** The members of the set `key` (none when it expired or was dropped). */
  members(key: string, now: number): Promise<string[]>;
  /** Forgets the set `key`. */
  drop(key: string): Promise<void>;
}
