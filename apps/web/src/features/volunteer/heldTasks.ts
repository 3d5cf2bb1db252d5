import type { TaskAssignment } from '@tabgrid/protocol';

export type HeldState = 'queued' | 'running' | 'reporting';

export interface HeldTask {
  assignment: Omit<TaskAssignment, 'image'>;
  /** Encoded image bytes; null once transferred to the worker. */
  image: ArrayBuffer | null;
  state: HeldState;
}

/**
 * The volunteer's local FIFO of leases it holds (normally at most maxInFlight:
 * one running per pool worker, one prefetched; plus results still being reported).
 */
export class HeldTasks {
  private readonly tasks = new Map<string, HeldTask>();

  add(assignment: TaskAssignment): void {
    const { image, ...rest } = assignment;
    const bytes =
      image instanceof ArrayBuffer
        ? image
        : (image.buffer.slice(image.byteOffset, image.byteOffset + image.byteLength) as ArrayBuffer);
    this.tasks.set(assignment.assignmentId, { assignment: rest, image: bytes, state: 'queued' });
  }

  has(assignmentId: string): boolean {
    return this.tasks.has(assignmentId);
  }

  get(assignmentId: string): HeldTask | undefined {
    return this.tasks.get(assignmentId);
  }

  /** The oldest task not started yet. */
  nextQueued(): HeldTask | undefined {
    for (const t of this.tasks.values()) if (t.state === 'queued') return t;
    return undefined;
  }

  remove(assignmentId: string): boolean {
    return this.tasks.delete(assignmentId);
  }

  ids(): string[] {
    return [...this.tasks.keys()];
  }

  all(): HeldTask[] {
    return [...this.tasks.values()];
  }

  clear(): void {
    this.tasks.clear();
  }

  get size(): number {
    return this.tasks.size;
  }
}
