import type { SchedulingStore } from '../../src/store/scheduling-store';

/** The store methods a fault can be injected into (everything the scheduler and the HTTP API call). */
export type StoreMethod = {
  [K in keyof SchedulingStore]-?: NonNullable<SchedulingStore[K]> extends (...args: never[]) => unknown
    ? K
    : never;
}[keyof SchedulingStore];

const MESSAGES: Record<string, string> = {
  SQLITE_BUSY: 'database is locked',
  SQLITE_FULL: 'database or disk is full',
  SQLITE_IOERR: 'disk I/O error',
};

/** An error shaped like better-sqlite3's SqliteError (`code` = the SQLite result code). */
export function sqliteError(code: keyof typeof MESSAGES | string): Error {
  return Object.assign(new Error(MESSAGES[code] ?? code), { name: 'SqliteError', code });
}

/**
 * A faulty-store wrapper for the real scheduler: `failNext('ack')` makes the
 * next call of that method throw (before touching the database, as a failed
 * transaction leaves it), everything else goes to the real SQLite store.
 *
 * @example const faults = new StoreFaults(); await startTestServer({}, { wrapStore: faults.wrap });
 *          faults.failNext('ack', sqliteError('SQLITE_BUSY'));
 */
export class StoreFaults {
  private readonly pending = new Map<string, unknown[]>();
  /** Every injected failure that was actually thrown, in order. */
  readonly thrown: { method: StoreMethod; error: unknown }[] = [];

  failNext(method: StoreMethod, error: unknown = sqliteError('SQLITE_BUSY'), times = 1): void {
    const queue = this.pending.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.pending.set(method, queue);
  }

  /** Failures armed but not yet thrown. */
  get armed(): number {
    return [...this.pending.values()].reduce((n, q) => n + q.length, 0);
  }

  readonly wrap = (store: SchedulingStore): SchedulingStore =>
    new Proxy(store, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const error = this.pending.get(prop as string)?.shift();
          if (error !== undefined) {
            this.thrown.push({ method: prop as StoreMethod, error });
            throw error;
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
}
