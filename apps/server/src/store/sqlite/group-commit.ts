import type { Transactions } from './transactions';

interface Staged {
  keys: readonly string[];
  stage: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: what must be durable — results, and the ledger's entries — is written in one
 * SQLite transaction per event-loop turn. Writes staged during a turn (all the results that
 * arrived in one poll phase) run together at `setImmediate`, each in a savepoint of that one
 * transaction, and each caller's promise settles only after the COMMIT: an ack sent then
 * promises a committed result (`synchronous = NORMAL`: in the WAL, so it survives SIGKILL).
 *
 * - A stage that throws is rolled back alone (its savepoint) and rejects; the others go on.
 * - If the COMMIT itself fails, every stage of the batch rejects and the store's memory changes
 *   are undone with it (`Transactions`): nothing of the batch happened.
 * - Stages that share a key (a task, a volunteer) are never in the same batch: the later one
 *   waits for the next turn, so it is decided after the earlier one's commit, as without
 *   batching (verification reads what the previous result left).
 */
export class GroupCommit {
  private queue: Staged[] = [];
  private scheduled = false;
  /** Batches committed, and stages in them (the bench's commits per task). */
  batches = 0;
  staged = 0;

  constructor(private readonly txs: Transactions) {}

  /** Runs `stage` in this turn's transaction; resolves with its value once that has committed. */
  stage<T>(keys: readonly string[], stage: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ keys, stage, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Whether anything waits to be committed. */
  get pending(): number {
    return this.queue.length;
  }

  /** Commits what is staged now (at shutdown, or before a write that must not wait a turn). */
  flush(): void {
    while (this.queue.length > 0) this.commitBatch();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.commitBatch();
      if (this.queue.length > 0) this.schedule();
    });
  }

  private commitBatch(): void {
    const seen = new Set<string>();
    const batch: Staged[] = [];
    const later: Staged[] = [];
    for (const s of this.queue) {
      const clash = s.keys.some((k) => seen.has(k));
      for (const k of s.keys) seen.add(k);
      (clash ? later : batch).push(s);
    }
    this.queue = later;
    if (batch.length === 0) return;
    const settled: { s: Staged; ok: boolean; value: unknown }[] = [];
    try {
      this.txs.run(() => {
        for (const s of batch) {
          try {
            settled.push({ s, ok: true, value: this.txs.run(s.stage) });
          } catch (err) {
            settled.push({ s, ok: false, value: err });
            // SQLite rolls the whole transaction back after some errors (SQLITE_FULL, IOERR):
            // the batch is lost, not just this stage.
            if (!this.txs.sqliteOpen) throw err;
          }
        }
      });
    } catch (err) {
      for (const s of batch) s.reject(err);
      return;
    }
    this.batches++;
    this.staged += batch.length;
    for (const { s, ok, value } of settled) (ok ? s.resolve : s.reject)(value);
  }
}
