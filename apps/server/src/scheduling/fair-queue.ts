/**
 * In-memory index of queued task ids, one FIFO per job, served round-robin
 * across jobs so that one huge job cannot starve a small one. SQLite stays the
 * source of truth: the index is rebuilt from it at start-up, and a task taken
 * from here is only assigned if the database still says it is queued.
 */
export class FairQueue {
  private readonly perJob = new Map<string, string[]>();
  private rotation: string[] = [];
  private cursor = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Appends a task at the back of its job's queue (new work). */
  pushBack(jobId: string, taskId: string): void {
    this.queueOf(jobId).push(taskId);
    this.count++;
  }

  /** Puts a task at the front of its job's queue (returned work goes first). */
  pushFront(jobId: string, taskId: string): void {
    this.queueOf(jobId).unshift(taskId);
    this.count++;
  }

  /**
   * Takes the next task, visiting jobs in turn. `accept` may refuse a task (for
   * example one this volunteer already failed); refused tasks stay queued.
   */
  take(accept: (taskId: string) => boolean = () => true): { jobId: string; taskId: string } | null {
    let visited = 0;
    while (this.rotation.length > 0 && visited < this.rotation.length) {
      if (this.cursor >= this.rotation.length) this.cursor = 0;
      const jobId = this.rotation[this.cursor]!;
      const queue = this.perJob.get(jobId)!;
      if (queue.length === 0) {
        this.perJob.delete(jobId);
        this.rotation.splice(this.cursor, 1);
        continue;
      }
      const scan = Math.min(queue.length, 16);
      for (let i = 0; i < scan; i++) {
        const taskId = queue[i]!;
        if (accept(taskId)) {
          queue.splice(i, 1);
          this.count--;
          this.cursor++;
          return { jobId, taskId };
        }
      }
      this.cursor++;
      visited++;
    }
    return null;
  }

  /** Removes a task wherever it is (e.g. completed by a late result). */
  remove(jobId: string, taskId: string): boolean {
    const queue = this.perJob.get(jobId);
    const i = queue ? queue.indexOf(taskId) : -1;
    if (i < 0) return false;
    queue!.splice(i, 1);
    this.count--;
    return true;
  }

  private queueOf(jobId: string): string[] {
    let queue = this.perJob.get(jobId);
    if (!queue) {
      queue = [];
      this.perJob.set(jobId, queue);
      this.rotation.push(jobId);
    }
    return queue;
  }
}
