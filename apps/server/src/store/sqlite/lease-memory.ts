import type { AssignmentRecord } from '../records';

/**
 * The SQLite store's live leases (`offered`/`acked` assignments), in memory only, as the Redis
 * gateway keeps its own (store/redis/local-cache.ts). An offer, an ack and a heartbeat write
 * nothing: a restart treats every live lease as lapsed anyway (the task is still `queued` in
 * SQLite, so `recover` queues it again). An assignment's row is written once, when it ends —
 * with its result (`completed`, in the turn's group commit) or without one (`lapsed`,
 * `released`, `failed`, `superseded`) — and its attempt is counted in the task's row then.
 *
 * Indexed by task (supersede, requeue, views) and by volunteer (disconnects), and counted by job
 * (tasks running: the `GET /api/jobs` list adds them to its SQLite counts without reading the
 * job's tasks). The records are replaced, never changed in place, so a record handed out stays as
 * it was.
 */
export class LeaseMemory {
  private readonly live = new Map<string, AssignmentRecord>();
  private readonly byTask = new Map<string, Set<string>>();
  private readonly byVolunteer = new Map<string, Set<string>>();
  /** The job of each task with a live lease, and each job's count of such tasks. */
  private readonly jobOfTask = new Map<string, string>();
  private readonly runningByJob = new Map<string, number>();

  get size(): number {
    return this.live.size;
  }

  get(assignmentId: string): AssignmentRecord | undefined {
    return this.live.get(assignmentId);
  }

  /** A new live lease on a task of `jobId`. */
  add(a: AssignmentRecord, jobId: string): void {
    this.live.set(a.id, a);
    if (!this.byTask.has(a.taskId)) {
      this.jobOfTask.set(a.taskId, jobId);
      this.runningByJob.set(jobId, (this.runningByJob.get(jobId) ?? 0) + 1);
    }
    index(this.byTask, a.taskId, a.id);
    index(this.byVolunteer, a.volunteerId, a.id);
  }

  /** Ends a live lease in memory; the record as it was, or undefined. */
  remove(assignmentId: string): AssignmentRecord | undefined {
    const a = this.live.get(assignmentId);
    if (!a) return undefined;
    this.live.delete(assignmentId);
    unindex(this.byTask, a.taskId, a.id);
    unindex(this.byVolunteer, a.volunteerId, a.id);
    if (!this.byTask.has(a.taskId)) this.taskStopped(a.taskId);
    return a;
  }

  /** The job of a task with a live lease, or undefined. */
  jobOf(taskId: string): string | undefined {
    return this.jobOfTask.get(taskId);
  }

  /** Tasks of this job with a live lease (running; `queued` in SQLite). */
  runningInJob(jobId: string): number {
    return this.runningByJob.get(jobId) ?? 0;
  }

  private taskStopped(taskId: string): void {
    const jobId = this.jobOfTask.get(taskId);
    if (jobId === undefined) return;
    this.jobOfTask.delete(taskId);
    const n = (this.runningByJob.get(jobId) ?? 1) - 1;
    if (n > 0) this.runningByJob.set(jobId, n);
    else this.runningByJob.delete(jobId);
  }

  /** The volunteer acknowledged an offer: its lease now runs `leaseMs`, `assignedAt` is the send time. */
  ack(assignmentId: string, now: number, leaseMs: number, sentAt?: number): AssignmentRecord | undefined {
    const a = this.live.get(assignmentId);
    if (a?.status !== 'offered') return undefined;
    const acked: AssignmentRecord = {
      ...a,
      status: 'acked',
      ackedAt: now,
      leaseExpiresAt: now + leaseMs,
      assignedAt: sentAt ?? a.assignedAt,
    };
    this.live.set(a.id, acked);
    return acked;
  }

  /** A heartbeat: this volunteer's live leases among `ids` run until `until`, capped at `assignedAt + cap`. */
  renew(volunteerId: string, ids: readonly string[], until: number, cap: number) {
    const renewed: string[] = [];
    const lost: string[] = [];
    for (const id of ids) {
      const a = this.live.get(id);
      if (a?.volunteerId !== volunteerId) {
        lost.push(id);
        continue;
      }
      this.live.set(id, { ...a, leaseExpiresAt: Math.min(until, a.assignedAt + cap) });
      renewed.push(id);
    }
    return { renewed, lost };
  }

  forTask(taskId: string): AssignmentRecord[] {
    return this.pick(this.byTask.get(taskId));
  }

  forVolunteer(volunteerId: string): AssignmentRecord[] {
    return this.pick(this.byVolunteer.get(volunteerId));
  }

  /** Live leases on this task: each one an attempt not yet written to its row. */
  countForTask(taskId: string): number {
    return this.byTask.get(taskId)?.size ?? 0;
  }

  /** The task's latest live lease (the API's timings of a running task), or undefined. */
  latestForTask(taskId: string): AssignmentRecord | undefined {
    let latest: AssignmentRecord | undefined;
    for (const a of this.forTask(taskId)) if (!latest || a.assignedAt >= latest.assignedAt) latest = a;
    return latest;
  }

  /** Tasks with at least one live lease (running). */
  runningTasks(): IterableIterator<string> {
    return this.byTask.keys();
  }

  get runningCount(): number {
    return this.byTask.size;
  }

  /** Live leases whose expiry has passed, at most `limit`, in no particular order. */
  expired(now: number, limit: number): AssignmentRecord[] {
    const out: AssignmentRecord[] = [];
    for (const a of this.live.values()) {
      if (a.leaseExpiresAt < now) out.push(a);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Pushes every live lease's expiry back by `ms` (the server itself stalled). */
  extend(ms: number): void {
    for (const a of this.live.values()) this.live.set(a.id, { ...a, leaseExpiresAt: a.leaseExpiresAt + ms });
  }

  all(): IterableIterator<AssignmentRecord> {
    return this.live.values();
  }

  private pick(ids: Set<string> | undefined): AssignmentRecord[] {
    if (!ids) return [];
    return [...ids].map((id) => this.live.get(id)!);
  }
}

function index(map: Map<string, Set<string>>, key: string, id: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(id);
}

function unindex(map: Map<string, Set<string>>, key: string, id: string): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) map.delete(key);
}
