/** The scheduling store contract against SQLite (the single-process default). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchedulerStore } from '../../src/store/sqlite';
import { openDatabase } from '../../src/storage/database';
import type { RetryPolicy } from '../../src/store/records';
import { describeSchedulingStore, POLICY, type StoreUnderTest } from './scheduling-store';

function openAt(
  dir: string,
  now: number,
  policy: RetryPolicy = POLICY,
): StoreUnderTest & { recovered: { lapsed: number; queued: number } } {
  const db = openDatabase(dir);
  const store = new SchedulerStore(db, policy);
  const recovered = store.recover(now);
  return {
    store,
    recovered,
    settle: async () => {},
    restart: async () => {
      db.close(); // what survives a crash is what was committed
      return openAt(dir, now, policy);
    },
    close: async () => {
      if (db.open) db.close();
    },
  };
}

describeSchedulingStore('SQLite', async (policy) =>
  openAt(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-contract-')), Date.now(), policy),
);
