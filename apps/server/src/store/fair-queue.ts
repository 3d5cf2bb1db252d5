/** A round-robin over keys: the ring's members in turn, with a cursor that survives removals. */
class Ring<T> {
  readonly members = new Map<string, T>();
  private order: string[] = [];
  private cursor = 0;

  get size(): number {
    return this.order.length;
  }

  get(key: string): T | undefined {
    return this.members.get(key);
  }

  add(key: string, value: T): void {
    this.members.set(key, value);
    this.order.push(key);
  }

  /** Visits members in turn starting at the cursor; `visit` returns true to stop (and advance past it). */
  visit(visit: (key: string, value: T) => 'taken' | 'skip' | 'empty'): boolean {
    let visited = 0;
    while (this.order.length > 0 && visited < this.order.length) {
      if (this.cursor >= this.order.length) this.cursor = 0;
      const key = this.order[this.cursor]!;
      const outcome = visit(key, this.members.get(key)!);
      if (outcome === 'empty') {
        this.members.delete(key);
        this.order.splice(this.cursor, 1);
        continue;
      }
      this.cursor++;
      if (outcome === 'taken') return true;
      visited++;
    }
    return false;
  }
}

/** Tasks of one job looked at per visit when the volunteer refuses the first ones. */
const SCAN = 16;

/**
 * In-memory index of queued task ids, one FIFO per job, served round-robin
 * across **requesters** (job owners) first and then across each requester's
 * jobs, so that neither one requester's flood of jobs nor one huge job can
 * starve somebody else's single photo. SQLite stays the source of truth: the
 * index is rebuilt from it at start-up, and a task taken from here is only
 * assigned if the database still says it is queued.
 *
 * @example new FairQueue((jobId) => ownerOf(jobId)) // looked up once per job entering the queue
 */
export class FairQueue {
  private readonly owners = new Ring<Ring<string[]>>();
  /** jobId -> its FIFO, wherever it sits in the rings. */
  private readonly perJob = new Map<string, string[]>();
  private count = 0;

  /** @param ownerOf the requester a job belongs to (one rotation slot per distinct value). */
  constructor(private readonly ownerOf: (jobId: string) => string = () => '') {}

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
   * Takes the next task, visiting requesters in turn and, within one, its jobs in
   * turn. `accept` may refuse a task (for example one this volunteer already
   * failed); refused tasks stay queued.
   */
  take(accept: (taskId: string) => boolean = () => true): { jobId: string; taskId: string } | null {
    let taken: { jobId: string; taskId: string } | null = null;
    this.owners.visit((_owner, jobs) => {
      const found = jobs.visit((jobId, queue) => {
        if (queue.length === 0) {
          this.perJob.delete(jobId);
          return 'empty';
        }
        const scan = Math.min(queue.length, SCAN);
        for (let i = 0; i < scan; i++) {
          const taskId = queue[i]!;
          if (accept(taskId)) {
            // shift() is O(1) in V8 (the array is trimmed in place); splice(0, 1) copies the rest.
            if (i === 0) queue.shift();
            else queue.splice(i, 1);
            this.count--;
            taken = { jobId, taskId };
            return 'taken';
          }
        }
        return 'skip';
      });
      if (found) return 'taken';
      return jobs.size === 0 ? 'empty' : 'skip';
    });
    return taken;
  }

  /** Removes a task wherever it is (e.g. completed by a late result, or cancelled). */
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
      const owner = this.ownerOf(jobId);
      let jobs = this.owners.get(owner);
      if (!jobs) {
        jobs = new Ring<string[]>();
        this.owners.add(owner, jobs);
      }
      jobs.add(jobId, queue);
    }
    return queue;
  }
}
