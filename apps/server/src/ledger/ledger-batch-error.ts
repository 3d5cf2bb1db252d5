/**
 * `LedgerStore.applyAll` stopped part-way (a store without multi-op transactions, Redis):
 * the first `done` ops took effect, the rest did not. A store that rolls back (SQLite) throws
 * its own error instead, which means nothing took effect.
 */
export class PartialLedgerBatchError extends Error {
  override readonly name = 'PartialLedgerBatchError';
  constructor(
    readonly done: number,
    override readonly cause: unknown,
  ) {
    super(
      `ledger batch stopped after ${done} ops: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/** How many ops of a failed `applyAll` took effect. */
export const appliedBefore = (err: unknown): number =>
  err instanceof PartialLedgerBatchError ? err.done : 0;
