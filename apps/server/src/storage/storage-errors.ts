import { isRedisUnavailable } from '../redis/errors';

/**
 * Recognises the errors a server's own dependencies raise (SQLite, the file
 * system, Redis) and says what they mean for a client: out of space (`507
 * insufficient_storage`) or temporarily unavailable (`503
 * storage_unavailable`, retry later). Anything else is a bug, not a
 * dependency fault.
 */

export type StorageFault = 'full' | 'unavailable';

/** Codes better-sqlite3 (`SqliteError.code`) and Node's fs raise when the disk is full. */
const FULL = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);
/** Codes that mean "the database or disk cannot be used right now". */
const UNAVAILABLE =
  /^(SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|READONLY|PROTOCOL|CORRUPT|NOTADB)|EIO|EROFS|EMFILE|ENFILE|EAGAIN|EBUSY)/;

function codeOf(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  // An error made by hand (tests, wrappers) may carry the code only in its message.
  const message = (err as { message?: unknown }).message;
  const match = typeof message === 'string' ? /\b(SQLITE_[A-Z_]+|E[A-Z]{2,})\b/.exec(message) : null;
  return match?.[1] ?? '';
}

/** `full`, `unavailable`, or null when `err` is not a known dependency fault. */
export function classifyStorageError(err: unknown): StorageFault | null {
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : '';
  // A full disk under the WAL may surface as SQLITE_IOERR_WRITE; its message says so.
  if (FULL.has(code) || /database or disk is full|no space left/i.test(message)) return 'full';
  if (UNAVAILABLE.test(code) || /database is locked|disk I\/O error/i.test(message)) return 'unavailable';
  if (isRedisUnavailable(err)) return 'unavailable';
  return null;
}

/** Short description for logs, health and metrics: the code, else the message. */
export function describeError(err: unknown): string {
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return (code && !message.includes(code) ? `${code}: ${message}` : message).slice(0, 200);
}
