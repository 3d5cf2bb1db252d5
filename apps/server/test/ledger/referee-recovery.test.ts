/**
 * Crash recovery of the credit of results the referee judged (SQLite). A refereed task publishes
 * the referee's own result, so no volunteer result is its `resultAssignmentId`; recovery used to
 * treat every other completed result as unjudged and re-create its credit as pending, where the
 * live path (`CreditKeeper.settled`) grants the results that agreed with the referee and revokes
 * the others. The process "crashes" here by never running the keeper: the store's writes are
 * durable, the keeper's queued batches are lost; `openBackend` then recovers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/config';
import { SqliteLedgerStore } from '../../src/ledger';
import { openBackend } from '../../src/storage/backend';
import { openDatabase } from '../../src/storage/database';
import { SchedulerStore } from '../../src/store/sqlite';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const photo = (i: number) => ({
  name: `p${i}.jpg`,
  imageSha256: `${i}`.padStart(64, '0'),
  mime: 'image/jpeg',
  width: 640,
  height: 480,
});
const person = [{ label: 'person', score: 0.9, box: [1, 2, 30, 40] as [number, number, number, number] }];

describe('ledger recovery after the referee settled a task', () => {
  it('grants the results that agreed with the referee and revokes the one it rejected, as the live path does', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-referee-recovery-'));
    dirs.push(dataDir);
    const db = openDatabase(dataDir);
    const store = new SchedulerStore(db, DEFAULT_CONFIG);
    const now = Date.now();
    const results = (volunteers: string[], at: number) =>
      volunteers.map((v) => {
        const { assignment } = store.assignNext(v, at, 1000)!;
        store.ack(assignment.id, at, 30_000);
        const done = store.complete(assignment.id, v, person, 10, at + 5, 'replicate');
        if (done.kind !== 'accepted') throw new Error(done.kind);
        return done.assignment;
      });
    const refereed = { verification: 'refereed' as const, agreeing: 2 };
    // Task 1: two disagreeing results, the referee sides with `honest`.
    await store.createJob([photo(1)], now);
    const [honest, liar] = results(['honest', 'liar'], now);
    expect(honest!.taskId).toBe(liar!.taskId);
    store.finalize(honest!.taskId, person, null, refereed, now + 20, {
      refereeMs: 30,
      agreeing: [honest!.id],
      rejected: [{ assignmentId: liar!.id, quarantined: false }],
    });
    // Task 2: one result whose provisional entry the keeper wrote before the crash.
    await store.createJob([photo(2)], now + 30);
    const [late] = results(['late'], now + 30);
    await new SqliteLedgerStore(db).applyAll([
      {
        kind: 'record',
        entry: {
          volunteerId: 'late',
          assignmentId: late!.id,
          taskId: late!.taskId,
          photos: 1,
          quick: false,
          at: now,
        },
        state: 'provisional',
        reason: null,
      },
    ]);
    expect(
      store.finalize(late!.taskId, person, null, refereed, now + 40, { agreeing: [late!.id] }),
    ).not.toBeNull();
    db.close(); // the keeper's batches never ran: the crash

    const start = () =>
      openBackend(
        { ...DEFAULT_CONFIG, dataDir, verification: true },
        { report: () => undefined, warn: () => undefined },
      );
    const backend = await start();
    try {
      expect(backend.recovered.ledgerEntries).toBe(2);
      const states = async (v: string) => (await backend.ledger.events(v)).map((e) => [e.state, e.reason]);
      expect(await states('honest')).toEqual([
        ['provisional', null],
        ['granted', 'refereed'],
      ]);
      expect(await states('liar')).toEqual([
        ['provisional', null],
        ['revoked', 'wrong'],
      ]);
      expect(await states('late')).toEqual([
        ['provisional', null],
        ['granted', 'refereed'],
      ]);
      for (const v of ['honest', 'late'])
        expect((await backend.ledger.totals(v, now)).total.pending, v).toBe(0);
    } finally {
      await backend.close();
    }
    // A second start writes nothing more.
    const again = await start();
    try {
      expect(again.recovered.ledgerEntries).toBe(0);
      expect((await again.ledger.events('honest')).length).toBe(2);
      expect((await again.ledger.events('late')).length).toBe(2);
    } finally {
      await again.close();
    }
  });
});
