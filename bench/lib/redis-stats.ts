/**
 * Redis's own counters for the scale bench: `INFO commandstats` (calls per command) and
 * `INFO stats` (`total_reads_processed`: read events, i.e. request batches Redis read from its
 * clients — one per round trip, however many pipelined commands it carried).
 */
import type { Redis } from 'ioredis';

export interface RedisCounters {
  /** command (lower case) -> calls */
  calls: Record<string, number>;
  readsProcessed: number;
}

export async function redisCounters(redis: Redis): Promise<RedisCounters> {
  const [commandstats, stats] = await Promise.all([redis.info('commandstats'), redis.info('stats')]);
  const calls: Record<string, number> = {};
  for (const line of commandstats.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) calls[m[1]!] = Number(m[2]);
  }
  const reads = /total_reads_processed:(\d+)/.exec(stats);
  return { calls, readsProcessed: reads ? Number(reads[1]) : Number.NaN };
}

/** What happened between two readings, without the bench's own `INFO` calls (2 per reading). */
export function counterDelta(
  before: RedisCounters,
  after: RedisCounters,
): { commands: number; reads: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let commands = 0;
  for (const [name, calls] of Object.entries(after.calls)) {
    if (name === 'info') continue;
    const d = calls - (before.calls[name] ?? 0);
    if (d > 0) {
      byCommand[name] = d;
      commands += d;
    }
  }
  return { commands, reads: after.readsProcessed - before.readsProcessed - 2, byCommand };
}
