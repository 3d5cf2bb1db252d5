/**
 * Preloaded into the benchmark's server process (`node --expose-gc --import tsx
 * --import bench/sim/server-probe.ts apps/server/src/main.ts`). No effect on the server otherwise.
 * - `{ type: 'memory' }` over IPC: `process.memoryUsage()` taken right after a full GC, so
 *   memory-per-connection deltas are not GC noise.
 * - `{ type: 'commits' }`: SQLite commits so far on every connection of the process — each
 *   outermost `db.transaction()` call, each `COMMIT` statement, and each write statement run
 *   outside a transaction (an autocommit). Counted by wrapping better-sqlite3's `prepare` and
 *   `transaction`, so it measures any build of the server alike.
 * - `{ type: 'heap-snapshot', file }`: a full GC, then `v8.writeHeapSnapshot(file)`; answers
 *   `{ type: 'heap-snapshot', file }` when written (what a connection holds, by constructor).
 */
import { writeHeapSnapshot } from 'node:v8';
import Database from 'better-sqlite3';

let commits = 0;
const CONTROL = /^\s*(BEGIN|SAVEPOINT|RELEASE|ROLLBACK|PRAGMA)\b/i;
type Prepare = (this: Database.Database, source: string, ...rest: unknown[]) => Database.Statement;
const proto = Database.prototype as unknown as { prepare: Prepare };
const prepare = proto.prepare;
proto.prepare = function (this: Database.Database, source: string, ...rest: unknown[]) {
  const stmt = prepare.call(this, source, ...rest);
  const isCommit = /^\s*COMMIT\b/i.test(source);
  // `UPDATE … RETURNING` is a `reader` to better-sqlite3, and a write all the same.
  const writes = !stmt.reader || /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(source);
  if (!isCommit && (!writes || CONTROL.test(source))) return stmt;
  const inTransaction = () => this.inTransaction;
  for (const method of ['run', 'get', 'all'] as const) {
    const call = (stmt[method] as (...a: unknown[]) => unknown).bind(stmt);
    Object.defineProperty(stmt, method, {
      value: (...args: unknown[]) => {
        const autocommit = !inTransaction();
        const result = call(...args);
        if (isCommit || autocommit) commits++;
        return result;
      },
    });
  }
  return stmt;
};

// `db.transaction(fn)`: its BEGIN/COMMIT are prepared on the native handle, past `prepare` above.
type Transaction = (
  this: Database.Database,
  fn: (...a: unknown[]) => unknown,
) => (...a: unknown[]) => unknown;
const txProto = Database.prototype as unknown as { transaction: Transaction };
const transaction = txProto.transaction;
txProto.transaction = function (this: Database.Database, fn: (...a: unknown[]) => unknown) {
  const tx = transaction.call(this, fn);
  const inTransaction = () => this.inTransaction;
  return function (this: unknown, ...args: unknown[]) {
    const outer = !inTransaction();
    const result = tx.apply(this, args);
    if (outer) commits++;
    return result;
  };
};

process.on('message', (msg: unknown) => {
  const type = (msg as { type?: string } | null)?.type;
  if (type === 'commits') {
    process.send?.({ type: 'commits', commits });
    return;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (type === 'heap-snapshot') {
    gc?.();
    const file = writeHeapSnapshot((msg as { file: string }).file);
    process.send?.({ type: 'heap-snapshot', file });
    return;
  }
  if (type !== 'memory') return;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  process.send?.({ type: 'memory', rss: m.rss, heapUsed: m.heapUsed, external: m.external, gc: !!gc });
});
// The IPC channel must not keep the server alive on its own.
process.channel?.unref();
