/**
 * A process that dies (SIGKILL, by its own hand) while the credit keeper still holds queued
 * ledger writes: on a real database in `<dataDir>`, it queues `<tasks>` one-photo tasks, then
 * takes results for the first `<written>` of them and lets the keeper write them (a committed
 * batch), takes results for the rest and kills itself in the same turn, before the keeper's next
 * batch. Prints `completed <n>` (every result the store accepted) first. Used by
 * `test/ledger/ledger-recovery.test.ts`.
 *
 * Usage: node --import tsx ledger-crash.ts <dataDir> <tasks> <written>
 */
import { Registry } from 'prom-client';
import { DEFAULT_CONFIG } from '../../src/config';
import { CreditKeeper, SqliteLedgerStore } from '../../src/ledger';
import { ErrorSink } from '../../src/observability/error-sink';
import { SchedulerStore } from '../../src/store/sqlite';
import { openDatabase } from '../../src/storage/database';

const [dataDir, tasksArg, writtenArg] = process.argv.slice(2);
if (!dataDir || !tasksArg || !writtenArg)
  throw new Error('usage: ledger-crash.ts <dataDir> <tasks> <written>');
const tasks = Number(tasksArg);
const written = Number(writtenArg);

const db = openDatabase(dataDir);
const store = new SchedulerStore(db, DEFAULT_CONFIG);
const silent = { error: () => undefined, warn: () => undefined } as unknown as ConstructorParameters<
  typeof ErrorSink
>[1];
const keeper = new CreditKeeper(new SqliteLedgerStore(db), {
  errors: new ErrorSink(new Registry(), silent),
  displayName: (id) => id,
  now: () => Date.now(),
});
await store.createJob(
  Array.from({ length: tasks }, (_, i) => ({
    name: `p${i}.jpg`,
    imageSha256: `${i}`.padStart(64, '0'),
    mime: 'image/jpeg',
    width: 640,
    height: 480,
  })),
  Date.now(),
);

/** One result, taken as the scheduler takes it: offer, ack, result, then the keeper. */
function oneResult(i: number): void {
  const now = Date.now();
  const volunteerId = `v_${i % 3}`;
  const { assignment } = store.assignNext(volunteerId, now, 1000)!;
  store.ack(assignment.id, now, 30_000);
  const outcome = store.complete(assignment.id, volunteerId, [], 10, now);
  if (outcome.kind !== 'accepted') throw new Error(`result ${i} not accepted: ${outcome.kind}`);
  keeper.resultAccepted(outcome.assignment, null, now);
}

for (let i = 0; i < written; i++) oneResult(i);
await keeper.idle();
for (let i = written; i < tasks; i++) oneResult(i);
console.log(`completed ${tasks}`);
// Dies now: the keeper's batch for the last results was scheduled for the next turn.
process.kill(process.pid, 'SIGKILL');
