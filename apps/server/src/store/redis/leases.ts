import type { AssignmentRecord, AssignmentStatus } from '../records';

/**
 * The volunteer leases (assignments) on the tasks a gateway caches, in memory: every assignment
 * by id and by task, and which are live (offered or acked), by volunteer. Bound: the assignments
 * of cached tasks only (`LocalCache` forgets a task's with the task).
 */
export class Leases {
  private readonly assignments = new Map<string, AssignmentRecord>();
  private readonly byTask = new Map<string, string[]>();
  private readonly live = new Set<string>();
  private readonly liveByVolunteer = new Map<string, Set<string>>();

  /** A new live lease (an offer). */
  add(a: AssignmentRecord): void {
    this.assignments.set(a.id, a);
    this.byTask.set(a.taskId, [...(this.byTask.get(a.taskId) ?? []), a.id]);
    this.live.add(a.id);
    let mine = this.liveByVolunteer.get(a.volunteerId);
    if (!mine) this.liveByVolunteer.set(a.volunteerId, (mine = new Set()));
    mine.add(a.id);
  }

  get(assignmentId: string): AssignmentRecord | undefined {
    return this.assignments.get(assignmentId);
  }

  has(assignmentId: string): boolean {
    return this.assignments.has(assignmentId);
  }

  isLive(assignmentId: string): boolean {
    return this.live.has(assignmentId);
  }

  /** Every live lease, oldest first. */
  *allLive(): Generator<AssignmentRecord> {
    for (const id of this.live) yield this.assignments.get(id)!;
  }

  /** The ids of this volunteer's live leases (a copy). */
  liveIdsOf(volunteerId: string): string[] {
    return [...(this.liveByVolunteer.get(volunteerId) ?? [])];
  }

  /** The live leases on a task. */
  liveOf(taskId: string): AssignmentRecord[] {
    return (this.byTask.get(taskId) ?? [])
      .filter((id) => this.live.has(id))
      .map((id) => this.assignments.get(id)!);
  }

  /** How many results (completed assignments) a task has had. */
  results(taskId: string): number {
    return (this.byTask.get(taskId) ?? []).filter((id) => this.assignments.get(id)!.status === 'completed')
      .length;
  }

  end(
    a: AssignmentRecord,
    status: AssignmentStatus,
    now: number,
    outcome: string | null,
    inferenceMs?: number,
  ): void {
    a.status = status;
    a.endedAt = now;
    a.outcome = outcome;
    if (inferenceMs !== undefined) a.inferenceMs = inferenceMs;
    this.live.delete(a.id);
    const mine = this.liveByVolunteer.get(a.volunteerId);
    mine?.delete(a.id);
    if (mine?.size === 0) this.liveByVolunteer.delete(a.volunteerId);
  }

  /** Drops a task's assignments (a live one ends first); returns those dropped. */
  forget(taskId: string): AssignmentRecord[] {
    const dropped: AssignmentRecord[] = [];
    for (const id of this.byTask.get(taskId) ?? []) {
      const a = this.assignments.get(id);
      if (!a) continue;
      if (this.live.has(id)) this.end(a, 'released', a.endedAt ?? 0, 'cancelled');
      this.assignments.delete(id);
      dropped.push(a);
    }
    this.byTask.delete(taskId);
    return dropped;
  }
}
