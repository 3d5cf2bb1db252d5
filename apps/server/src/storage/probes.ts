import Database from 'better-sqlite3';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DependencyProbe } from '../observability/health';
import { DATABASE_FILE } from './database';

/** A named error for "not enough free disk space" (code ENOSPC, so it classifies as a full disk). */
export class LowDiskSpaceError extends Error {
  override readonly name = 'LowDiskSpaceError';
  readonly code = 'ENOSPC';
  constructor(
    readonly freeBytes: number,
    readonly minFreeBytes: number,
  ) {
    super(`${freeBytes} bytes free on the data volume, below TABGRID_MIN_FREE_BYTES (${minFreeBytes})`);
  }
}

/** Free bytes available to this process on the volume holding `dir` (`fs.statfs`). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
}

/** Throws LowDiskSpaceError when `dir`'s volume has less than `minFreeBytes` free. */
export async function assertFreeSpace(dir: string, minFreeBytes: number): Promise<void> {
  if (minFreeBytes <= 0) return;
  const free = await freeBytes(dir);
  if (free < minFreeBytes) throw new LowDiskSpaceError(free, minFreeBytes);
}

/**
 * `database`: a tiny committed write and a read-back on a connection of its
 * own that never waits for a lock (`busy_timeout = 0`). A lock held by another
 * process, a full disk or an I/O error makes it fail at once, without
 * blocking the event loop the way the main connection's busy wait would.
 */
export function databaseProbe(dataDir: string): DependencyProbe & { close(): void } {
  let db: Database.Database | null = null;
  const open = () => {
    const conn = new Database(path.join(dataDir, DATABASE_FILE), { fileMustExist: true });
    conn.pragma('busy_timeout = 0');
    return conn;
  };
  return {
    name: 'database',
    gatesDispatch: true,
    check() {
      try {
        db ??= open();
        const now = Date.now();
        db.prepare(
          'INSERT INTO health_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at',
        ).run(now);
        const row = db.prepare('SELECT at FROM health_probe WHERE id = 1').get() as
          { at: number } | undefined;
        if (row?.at !== now) throw new Error('database probe: read-back does not match the write');
      } catch (err) {
        // Reopen next time: the connection itself may be what broke (file replaced, I/O error).
        db?.close();
        db = null;
        throw err;
      }
    },
    close() {
      db?.close();
      db = null;
    },
  };
}

/** `disk`: free space on the data volume above `minFreeBytes`. Uploads are refused below it; work goes on. */
export function diskProbe(dataDir: string, minFreeBytes: number): DependencyProbe {
  return {
    name: 'disk',
    gatesDispatch: false,
    check: () => assertFreeSpace(dataDir, minFreeBytes),
  };
}
