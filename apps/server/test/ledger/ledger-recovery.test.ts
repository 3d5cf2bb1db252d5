/**
 * A crash between ledger batches (SQLite): a real process accepts results, the credit keeper
 * commits the first batch, and the process is SIGKILLed while the next batch is still queued.
 * Start-up (`openBackend`) rebuilds the lost entries from the stored results: every accepted
 * result ends up with exactly one entry, and starting again adds nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/config';
import { openDatabase } from '../../src/storage/database';
import { openBackend } from '../../src/storage/backend';
import { killAll, spawnTs } from '../support/processes';

const dirs: string[] = [];
afterAll(async () => {
  await killAll();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const TASKS = 20;
const WRITTEN = 8;
const VOLUNTEERS = ['v_0', 'v_1', 'v_2'];

/** Rows straight from the database file: completed assignments, entries, events. */
function count(dataDir: string) {
  const db = openDatabase(dataDir);
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      completed: n("SELECT COUNT(*) AS n FROM assignments WHERE status = 'completed'"),
      entries: n('SELECT COUNT(*) AS n FROM credit_entries'),
      events: n('SELECT COUNT(*) AS n FROM credit_events'),
      withoutEntry: n(
        `SELECT COUNT(*) AS n FROM assignments a WHERE a.status = 'completed'
         AND NOT EXISTS (SELECT 1 FROM credit_entries c WHERE c.assignment_id = a.id)`,
      ),
    };
  } finally {
    db.close();
  }
}

async function start(dataDir: string) {
  return openBackend(
    { ...DEFAULT_CONFIG, dataDir, verification: false },
    { report: () => undefined, warn: () => undefined },
  );
}

describe('ledger after a crash between batches', () => {
  it('rebuilds the entries still queued when the process died, once', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-ledger-crash-'));
    dirs.push(dataDir);
    const child = spawnTs('ledger-crash', 'apps/server/test/support/ledger-crash.ts', [
      dataDir,
      String(TASKS),
      String(WRITTEN),
    ]);
    expect((await child.exited).signal, child.output()).toBe('SIGKILL');
    expect(child.output()).toContain(`completed ${TASKS}`);
    // The crash lost the queued batch: only the first one's entries are there.
    expect(count(dataDir)).toEqual({
      completed: TASKS,
      entries: WRITTEN,
      events: WRITTEN,
      withoutEntry: TASKS - WRITTEN,
    });

    const backend = await start(dataDir);
    try {
      expect(backend.recovered.ledgerEntries).toBe(TASKS - WRITTEN);
      let granted = 0;
      for (const v of VOLUNTEERS) {
        const totals = await backend.ledger.totals(v, Date.now());
        expect(totals, v).toEqual(await backend.ledger.recompute(v, Date.now()));
        expect(totals.total.pending + totals.total.revoked, v).toBe(0);
        granted += totals.total.granted;
        // Recovered as the keeper writes with verification off: granted, unverified.
        for (const e of await backend.ledger.events(v))
          expect([e.state, e.reason]).toEqual(['granted', 'unverified']);
      }
      expect(granted).toBe(TASKS * 10);
    } finally {
      await backend.close();
    }
    expect(count(dataDir)).toEqual({ completed: TASKS, entries: TASKS, events: TASKS, withoutEntry: 0 });

    // A second start finds nothing missing and doubles nothing.
    const again = await start(dataDir);
    try {
      expect(again.recovered.ledgerEntries).toBe(0);
    } finally {
      await again.close();
    }
    expect(count(dataDir)).toEqual({ completed: TASKS, entries: TASKS, events: TASKS, withoutEntry: 0 });
  }, 60_000);
});
