import type { Db } from '../../storage/database';
import { PartialBatchError, type EndedLease } from '../records';
import type { Statements } from './statements';

/**
 * Start-up after a crash or restart: every task not finished goes back to `queued` (a task that
 * was running is `queued` in SQLite already: its leases were in memory only). Leases written
 * live by an older version are ended as lapsed; returns how many.
 */
export function recoverRows(
  db: Db,
  s: Pick<Statements, 'allLive' | 'endAssignment' | 'requeueTask'>,
  now: number,
): number {
  let lapsed = 0;
  db.transaction(() => {
    for (const a of s.allLive.all()) {
      s.endAssignment.run('lapsed', now, 'lease_expired', null, a.id);
      s.requeueTask.run(a.task_id);
      lapsed++;
    }
    db.prepare("UPDATE tasks SET status = 'queued' WHERE status = 'running'").run();
  })();
  return lapsed;
}

/** Releases each row in its own transaction; if one fails, throws PartialBatchError with those already ended. */
export function releaseEach<R>(rows: readonly R[], release: (row: R) => EndedLease | null): EndedLease[] {
  const ended: EndedLease[] = [];
  for (const row of rows) {
    try {
      const e = release(row);
      if (e) ended.push(e);
    } catch (err) {
      throw new PartialBatchError(ended, err);
    }
  }
  return ended;
}

/**
 * SQLite transactions whose in-memory changes (the queue index, exclusions) apply only once the
 * transaction has committed: a write that fails (SQLITE_BUSY, SQLITE_FULL, …) leaves both the
 * database and the index as they were. A nested `run` is a savepoint of the outer transaction:
 * if it throws, its own writes and queued changes are undone and the outer one goes on (the
 * group commit runs many results in one transaction that way, group-commit.ts).
 *
 * Changes that must be visible at once inside the transaction (the live leases: a second
 * result in the same batch must see the first one's) go through `now`, with the change that
 * undoes them if the savepoint or the transaction rolls back.
 */
export class Transactions {
  /** Changes waiting for the current transaction to commit (null outside `run`). */
  private afterCommit: (() => void)[] | null = null;
  /** What undoes the `now` changes made so far in the current transaction. */
  private undos: (() => void)[] = [];
  /** Built once (better-sqlite3 builds a wrapper per `transaction()` call). */
  private readonly tx;
  /** Transactions committed (a nested run is not one): the bench's commits per task. */
  commits = 0;

  constructor(private readonly db: Db) {
    this.tx = db.transaction((fn: () => unknown) => fn());
  }

  /** Runs `fn` in one transaction (a savepoint inside one), then the `onCommit` changes it queued. */
  run<T>(fn: () => T): T {
    if (this.afterCommit) return this.savepoint(this.afterCommit, fn);
    return this.outer(fn);
  }

  /** Whether a transaction of this object is open (a nested `run` joins it). */
  get open(): boolean {
    return this.afterCommit !== null;
  }

  /** Runs `op` after the current transaction commits (at once outside one). */
  onCommit(op: () => void): void {
    if (this.afterCommit) this.afterCommit.push(op);
    else op();
  }

  /** Applies `change` now; `undo` reverts it if the current savepoint or transaction rolls back. */
  now(change: () => void, undo: () => void): void {
    change();
    if (this.afterCommit) this.undos.push(undo);
  }

  private savepoint<T>(ops: (() => void)[], fn: () => T): T {
    const opsMark = ops.length;
    const undoMark = this.undos.length;
    try {
      return this.tx(fn) as T;
    } catch (err) {
      ops.length = opsMark;
      this.undoTo(undoMark);
      throw err;
    }
  }

  private outer<T>(fn: () => T): T {
    const ops: (() => void)[] = [];
    this.afterCommit = ops;
    this.undos = [];
    let result: T;
    try {
      result = this.tx(fn) as T;
    } catch (err) {
      this.undoTo(0);
      throw err;
    } finally {
      this.afterCommit = null;
    }
    this.undos = [];
    this.commits++;
    for (const op of ops) op();
    return result;
  }

  private undoTo(mark: number): void {
    while (this.undos.length > mark) this.undos.pop()!();
  }

  /** Whether SQLite still has the transaction open (it rolls back on its own after some errors). */
  get sqliteOpen(): boolean {
    return this.db.inTransaction;
  }
}
