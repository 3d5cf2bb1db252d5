/**
 * The browser's `IdentityStore`: IndexedDB (db `tabgrid-volunteer`, store
 * `identity`, one record). Shared by the tabs of one origin, so two tabs are
 * the same volunteer (the newer connection replaces the older, rule I4).
 * Storage failures are misses: the volunteer then lasts one session.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { IdentityStore, VolunteerIdentity } from '@tabgrid/volunteer-client';

interface IdentityDB extends DBSchema {
  identity: { key: string; value: VolunteerIdentity };
}

const DB_NAME = 'tabgrid-volunteer';
const KEY = 'current';

export class IdbIdentityStore implements IdentityStore {
  private db: Promise<IDBPDatabase<IdentityDB>> | null = null;

  private open(): Promise<IDBPDatabase<IdentityDB>> {
    this.db ??= openDB<IdentityDB>(DB_NAME, 1, {
      upgrade(database, oldVersion) {
        if (oldVersion < 1) database.createObjectStore('identity');
      },
    }).catch((err: unknown) => {
      this.db = null;
      throw err;
    });
    return this.db;
  }

  async load(): Promise<VolunteerIdentity | null> {
    try {
      return (await (await this.open()).get('identity', KEY)) ?? null;
    } catch {
      return null;
    }
  }

  async save(identity: VolunteerIdentity): Promise<void> {
    await (await this.open()).put('identity', { ...identity }, KEY);
  }

  async clear(): Promise<void> {
    await (await this.open()).delete('identity', KEY);
  }
}
