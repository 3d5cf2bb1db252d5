/**
 * The owner of each job with unfinished tasks on this gateway (the fair queue's key), counted by
 * task. Bound: a job leaves with its last unfinished task here, so there are never more entries
 * than unfinished tasks held (a gateway claims only up to its demand).
 */
export class JobOwners {
  private readonly jobs = new Map<string, { owner: string; held: number }>();

  /** One more unfinished task of this job is held here. */
  hold(jobId: string, owner: string): void {
    const job = this.jobs.get(jobId);
    if (job) job.held++;
    else this.jobs.set(jobId, { owner, held: 1 });
  }

  /** One of this job's unfinished tasks finished or left. */
  drop(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (job && --job.held === 0) this.jobs.delete(jobId);
  }

  ownerOf(jobId: string): string {
    return this.jobs.get(jobId)?.owner ?? '';
  }

  get size(): number {
    return this.jobs.size;
  }
}
