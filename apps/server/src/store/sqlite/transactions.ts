import type { Db } from '../../storage/database';
import { PartialBatchError, type EndedLease } from '../records';

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
 * database and the index as they were. A nested `run` joins the outer transaction.
 */
export class Transactions {
  /** Changes waiting for the current transaction to commit (null outside `run`). */
  private afterCommit: (() => void)[] | null = null;
  /** Built once (better-sqlite3 builds a wrapper per `transaction()` call). */
  private readonly tx;

  constructor(db: Db) {
    this.tx = db.transaction((fn: () => unknown) => fn());
  }

  /** Runs `fn` in one transaction, then the `onCommit` changes it queued. */
  run<T>(fn: () => T): T {
    if (this.afterCommit) return this.tx(fn) as T;
    const ops: (() => void)[] = [];
    this.afterCommit = ops;
    let result: T;
    try {
      result = this.tx(fn) as T;
    } finally {
      this.afterCommit = null;
    }
    for (const op of ops) op();
    return result;
  }

  /** Runs `op` after the current transaction commits (at once outside one). */
  onCommit(op: () => void): void {
    if (this.afterCommit) this.afterCommit.push(op);
    else op();
  }
}
