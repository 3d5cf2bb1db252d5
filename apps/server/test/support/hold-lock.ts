/**
 * A second process holding the server's database: `BEGIN EXCLUSIVE` on its
 * own connection, printing `locked`, until SIGTERM (then COMMIT, `released`)
 * or `maxMs` have passed. Used by the fault suite: `spawnTs('locker', …)`.
 *
 * Usage: node --import tsx hold-lock.ts <database file> [maxMs]
 */
import Database from 'better-sqlite3';

const [file, maxMs = '30000'] = process.argv.slice(2);
if (!file) throw new Error('usage: hold-lock.ts <database file> [maxMs]');
const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.exec('BEGIN EXCLUSIVE');
// A write of its own, as a real writer (backup, migration, sqlite3 CLI) would do.
db.prepare('INSERT INTO health_probe (id, at) VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET at = 0').run();
console.log('locked');
const release = () => {
  db.exec('COMMIT');
  db.close();
  console.log('released');
  process.exit(0);
};
process.on('SIGTERM', release);
setTimeout(release, Number(maxMs));
