import { PartialLedgerBatchError } from './ledger-batch-error';
import type { LedgerOp, LedgerStore } from './types';

/**
 * `LedgerStore.applyAll` for a store without multi-op transactions (Redis): each op in order,
 * through the store's own single-op calls. A failure stops the batch with a
 * `PartialLedgerBatchError` naming how many ops took effect, so the caller applies only the rest
 * again (an op whose outcome is unknown, e.g. a reply lost, may run twice: each op alone is
 * idempotent).
 */
export async function applyOneByOne(
  store: Pick<LedgerStore, 'record' | 'grant' | 'revoke' | 'entries'>,
  ops: readonly LedgerOp[],
): Promise<void> {
  let done = 0;
  try {
    for (const op of ops) {
      await applyOne(store, op);
      done++;
    }
  } catch (err) {
    throw new PartialLedgerBatchError(done, err);
  }
}

async function applyOne(
  store: Pick<LedgerStore, 'record' | 'grant' | 'revoke' | 'entries'>,
  op: LedgerOp,
): Promise<void> {
  {
    switch (op.kind) {
      case 'record':
        await store.record(op.entry, op.state, op.reason);
        break;
      case 'grant':
        await store.grant(op.ref, op.reason, op.at);
        break;
      case 'revoke':
        await store.revoke(op.ref, op.reason, op.at);
        break;
      case 'revokeProvisional':
        for (const e of await store.entries(op.volunteerId))
          if (e.state === 'provisional') await store.revoke(e, op.reason, op.at);
        break;
      case 'revokeAll':
        for (const e of await store.entries(op.volunteerId))
          if (e.state !== 'revoked') await store.revoke(e, op.reason, op.at);
        break;
    }
  }
}
