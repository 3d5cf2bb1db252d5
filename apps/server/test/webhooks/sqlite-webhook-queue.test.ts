/** The webhook queue contract against SQLite (the single-process default). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/storage/database';
import { SqliteWebhookQueue } from '../../src/webhooks/sqlite-webhook-queue';
import { describeWebhookQueue, type QueueUnderTest } from './webhook-queue.contract';

function openAt(dir: string): QueueUnderTest {
  const handles = [openDatabase(dir)];
  return {
    queue: new SqliteWebhookQueue(handles[0]!),
    second: async () => {
      const db = openDatabase(dir);
      handles.push(db);
      return new SqliteWebhookQueue(db);
    },
    restart: async () => {
      for (const db of handles) db.close();
      return openAt(dir);
    },
    close: async () => {
      for (const db of handles) if (db.open) db.close();
    },
  };
}

describeWebhookQueue('SQLite', async () => openAt(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-hooks-'))));
