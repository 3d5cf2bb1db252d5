import type { Redis } from 'ioredis';
import { KEYS } from './keys';
import type { RedisMeter } from './meter';
import { decodeTask, type StoredTask } from './stored-task';

/** One stream entry: a task to run. */
export interface Entry {
  entryId: string;
  jobId: string;
  taskId: string;
}

/** An entry with its task (null when the task no longer exists) and the job's owner. */
export interface ClaimedTask {
  entryId: string;
  task: StoredTask | null;
  owner: string;
}

type RawEntries = [id: string, fields: string[] | null][];

/** Parses `XREADGROUP`/`XCLAIM`/`XAUTOCLAIM` entries (deleted entries come back without fields). */
export function parseEntries(raw: RawEntries): Entry[] {
  return raw.map(([entryId, fields]) => {
    const f = new Map<string, string>();
    for (let i = 0; fields && i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
    return { entryId, jobId: f.get('j') ?? '', taskId: f.get('t') ?? '' };
  });
}

/** The consumer group exists (created at the stream's start, so no entry is skipped). */
export async function ensureGroup(redis: Redis): Promise<void> {
  try {
    await redis.xgroup('CREATE', KEYS.stream, KEYS.group, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('BUSYGROUP')) throw err;
  }
}

/** Reads the tasks of claimed entries: one pipeline for all (a HMGET and an owner per job). */
export async function loadTasks(redis: Redis, meter: RedisMeter, entries: Entry[]): Promise<ClaimedTask[]> {
  if (entries.length === 0) return [];
  const byJob = new Map<string, Entry[]>();
  for (const e of entries) byJob.set(e.jobId, [...(byJob.get(e.jobId) ?? []), e]);
  const pipe = redis.pipeline();
  for (const [jobId, list] of byJob) {
    pipe.hmget(KEYS.tasks(jobId), ...list.map((e) => e.taskId));
    pipe.hget(KEYS.job(jobId), 'owner');
  }
  const replies = (await pipe.exec()) ?? [];
  meter.roundTrip(replies.length);
  const out: ClaimedTask[] = [];
  let i = 0;
  for (const list of byJob.values()) {
    const [errTasks, jsons] = replies[i++] as [Error | null, (string | null)[]];
    const [errOwner, owner] = replies[i++] as [Error | null, string | null];
    if (errTasks || errOwner) throw errTasks ?? errOwner;
    list.forEach((e, k) => {
      const json = jsons[k];
      out.push({ entryId: e.entryId, task: json ? decodeTask(json) : null, owner: owner ?? '' });
    });
  }
  return out;
}

/**
 * Reads up to `count` entries for this gateway: `>` new ones (blocking up to `blockMs` on the
 * dedicated `reader` connection), or its own pending ones after the entry id `from` (`0`: all;
 * after a restart).
 */
export async function readEntries(
  reader: Redis,
  meter: RedisMeter,
  gatewayId: string,
  count: number,
  from: string,
  blockMs: number,
): Promise<Entry[]> {
  const args: (string | number)[] = ['GROUP', KEYS.group, gatewayId, 'COUNT', count];
  if (from === '>' && blockMs > 0) args.push('BLOCK', blockMs);
  args.push('STREAMS', KEYS.stream, from);
  const res = (await reader.call('XREADGROUP', ...args)) as [string, RawEntries][] | null;
  meter.roundTrip();
  return res?.[0] ? parseEntries(res[0][1]) : [];
}
