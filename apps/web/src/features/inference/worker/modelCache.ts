/**
 * IndexedDB adapter for model bytes (db `tabgrid`, store `models`, keyed by
 * sha256). Every storage failure is a cache miss, never an error.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

interface StoredModel {
  sha256: string;
  url: string;
  bytes: ArrayBuffer;
  storedAt: number;
}

interface TabgridDB extends DBSchema {
  models: { key: string; value: StoredModel };
}

const DB_NAME = 'tabgrid';
const DB_VERSION = 1;

let dbPromise: Promise<IDBPDatabase<TabgridDB>> | null = null;

function db(): Promise<IDBPDatabase<TabgridDB>> {
  dbPromise ??= openDB<TabgridDB>(DB_NAME, DB_VERSION, {
    upgrade(database, oldVersion) {
      if (oldVersion < 1) database.createObjectStore('models', { keyPath: 'sha256' });
    },
  }).catch((err: unknown) => {
    dbPromise = null;
    throw err;
  });
  return dbPromise;
}

/** The cached bytes for this hash, or null (missing or storage unavailable). */
export async function getCachedModel(sha256: string): Promise<ArrayBuffer | null> {
  try {
    const row = await (await db()).get('models', sha256);
    return row?.bytes ?? null;
  } catch {
    return null;
  }
}

/** Stores the model and drops any other cached model. Failures are ignored. */
export async function putCachedModel(sha256: string, url: string, bytes: ArrayBuffer): Promise<void> {
  try {
    const database = await db();
    const tx = database.transaction('models', 'readwrite');
    const keys = await tx.store.getAllKeys();
    await Promise.all([
      ...keys.filter((k) => k !== sha256).map((k) => tx.store.delete(k)),
      tx.store.put({ sha256, url, bytes, storedAt: Date.now() }),
      tx.done,
    ]);
  } catch {
    // quota, private mode, blocked upgrade...: the next visit downloads again
  }
}

/** Removes a cached entry (used when its bytes no longer match their hash). */
export async function deleteCachedModel(sha256: string): Promise<void> {
  try {
    await (await db()).delete('models', sha256);
  } catch {
    // ignore
  }
}
