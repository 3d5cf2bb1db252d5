/**
 * CreditKeeper's batching on the real SQLite ledger: one `applyAll` per event-loop turn, and a
 * batch that fails is applied again decision by decision, so no write is lost or doubled.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CreditKeeper } from '../../src/ledger/credit-keeper';
import { PartialLedgerBatchError } from '../../src/ledger/ledger-batch-error';
import { SqliteLedgerStore } from '../../src/ledger/sqlite-ledger';
import type { LedgerOp, LedgerStore } from '../../src/ledger/types';
import { ErrorSink } from '../../src/observability/error-sink';
import type { AssignmentRecord } from '../../src/store/records';
import { openDatabase, type Db } from '../../src/storage/database';

const opened: { db: Db; dir: string }[] = [];
afterEach(() => {
  for (const { db, dir } of opened.splice(0)) {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const T0 = Date.UTC(2026, 10, 26, 12);
const VOLUNTEERS = ['va', 'vb', 'vc'];

function sqliteLedger(): SqliteLedgerStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-keeper-'));
  const db = openDatabase(dir);
  opened.push({ db, dir });
  return new SqliteLedgerStore(db);
}

/** The real store, with `applyAll` calls recorded and, where `fail` says so, failing. */
function watched(
  real: SqliteLedgerStore,
  fail: (ops: readonly LedgerOp[], call: number) => 'apply' | 'throw' | 'half-then-throw' = () => 'apply',
) {
  const calls: number[] = [];
  const ledger: LedgerStore = Object.create(real) as LedgerStore;
  ledger.applyAll = async (ops) => {
    calls.push(ops.length);
    const how = fail(ops, calls.length);
    if (how === 'apply') return real.applyAll(ops);
    const cause = new Error('SQLITE_IOERR: disk I/O error (injected)');
    if (how === 'throw') throw cause; // rolled back: nothing took effect (SQLite)
    // A store without multi-op transactions (Redis) fails part-way: the first half stays.
    const done = Math.ceil(ops.length / 2);
    await real.applyAll(ops.slice(0, done));
    throw new PartialLedgerBatchError(done, cause);
  };
  return { ledger, calls };
}

function keeperOn(ledger: LedgerStore) {
  const errors = new ErrorSink(new Registry(), pino({ level: 'silent' }));
  const reported: string[] = [];
  errors.onReport((where) => reported.push(where));
  const told: string[] = [];
  const keeper = new CreditKeeper(ledger, {
    errors,
    displayName: (id) => id,
    now: () => T0,
    notify: (id) => told.push(id),
  });
  return { keeper, reported, told };
}

const assignment = (n: number): AssignmentRecord => ({
  id: `asg-${n}`,
  taskId: `task-${n}`,
  volunteerId: VOLUNTEERS[n % VOLUNTEERS.length]!,
  status: 'completed',
  // Slow (past the quick-return window): base credits only, so totals are easy to state.
  assignedAt: T0 - 120_000,
  ackedAt: T0 - 119_900,
  leaseExpiresAt: T0 + 30_000,
  endedAt: T0,
  outcome: null,
  inferenceMs: 12,
});

/** Every volunteer's entries and events, and maintained totals equal to a recompute. */
async function audit(ledger: LedgerStore) {
  let entries = 0;
  let events = 0;
  for (const v of VOLUNTEERS) {
    entries += (await ledger.entries(v)).length;
    events += (await ledger.events(v)).length;
    expect(await ledger.totals(v, T0), v).toEqual(await ledger.recompute(v, T0));
  }
  return { entries, events };
}

describe('CreditKeeper batches', () => {
  it("writes one event-loop turn's decisions with one applyAll, and tells each volunteer once", async () => {
    const real = sqliteLedger();
    const { ledger, calls } = watched(real);
    const { keeper, told } = keeperOn(ledger);
    for (let n = 0; n < 30; n++) keeper.resultAccepted(assignment(n), null, T0);
    keeper.sendTo('va');
    await keeper.idle();
    expect(calls).toEqual([30]);
    expect([...told].sort()).toEqual(VOLUNTEERS);
    for (let n = 30; n < 40; n++) keeper.resultAccepted(assignment(n), null, T0);
    await keeper.idle();
    expect(calls).toEqual([30, 10]);
    expect(await audit(real)).toEqual({ entries: 40, events: 40 });
    expect((await real.totals('va', T0)).total.granted).toBe(14 * 10);
  });

  it.each([
    ['rolled back (SQLite)', 'throw' as const, [12, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]],
    // 6 of 12 ops took effect (decisions 0-5): only decisions 6-9 and the quarantine run again.
    ['stopped part-way (Redis)', 'half-then-throw' as const, [12, 1, 1, 1, 1, 2]],
  ])('writes what a failed batch did not, decision by decision: %s', async (_name, how, expected) => {
    const real = sqliteLedger();
    // The first batch fails; every later call succeeds.
    const { ledger, calls } = watched(real, (_ops, call) => (call === 1 ? how : 'apply'));
    const { keeper, reported } = keeperOn(ledger);
    for (let n = 0; n < 10; n++) keeper.resultAccepted(assignment(n), null, T0);
    // A quarantine in the same turn: its revocations run after the entries, in order.
    keeper.caught('vb', ['asg-1'], T0);
    await keeper.idle();
    expect(calls).toEqual(expected);
    expect(reported).toEqual([]);
    const { entries, events } = await audit(real);
    expect(entries).toBe(10);
    // One event per entry, plus one revocation per entry of vb's (caught: it keeps nothing, C2):
    // nothing written twice.
    expect(events).toBe(13);
    expect((await real.totals('vb', T0)).total).toEqual({ pending: 0, granted: 0, revoked: 30 });
  });

  it('reports a decision that fails on its own, and writes the others of its batch', async () => {
    const real = sqliteLedger();
    const poisoned = (ops: readonly LedgerOp[]) =>
      ops.some((op) => op.kind === 'record' && op.entry.assignmentId === 'asg-4');
    const { ledger } = watched(real, (ops) => (poisoned(ops) ? 'throw' : 'apply'));
    const { keeper, reported } = keeperOn(ledger);
    for (let n = 0; n < 8; n++) keeper.resultAccepted(assignment(n), null, T0);
    await keeper.idle();
    expect(reported).toEqual(['ledger.result']);
    expect(await audit(real)).toEqual({ entries: 7, events: 7 });
    expect((await real.entries('vb')).map((e) => e.assignmentId)).toEqual(['asg-1', 'asg-7']);
  });
});
