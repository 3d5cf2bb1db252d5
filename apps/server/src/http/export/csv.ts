import type { JobView } from '@tabgrid/protocol';
import { stringify } from 'csv-stringify/sync';
import { cocoCategoryId } from './coco-categories';

export const CSV_COLUMNS = [
  'job_id',
  'task_id',
  'file_name',
  'image_width',
  'image_height',
  'status',
  'label',
  'category_id',
  'score',
  'x1',
  'y1',
  'x2',
  'y2',
] as const;

/**
 * Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, tab or CR as a formula; file
 * names come from requesters, so such a name is written with a leading `'` (OWASP's advice).
 */
const inert = (text: string) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);

/**
 * A job as CSV (RFC 4180: header row, comma-separated, fields with commas, quotes or line
 * breaks quoted, CRLF line ends): one row per detection, and one row with empty detection
 * columns for a task without any (queued, running, failed, or nothing found), so that every
 * photo appears.
 */
export function toCsv(job: JobView): string {
  const rows: (string | number)[][] = [];
  for (const task of job.tasks) {
    const base = [job.id, task.id, inert(task.name), task.width, task.height, task.status];
    if (task.detections.length === 0) rows.push([...base, '', '', '', '', '', '', '']);
    for (const d of task.detections) {
      rows.push([...base, d.label, cocoCategoryId(d.label) ?? '', d.score, ...d.box]);
    }
  }
  return stringify(rows, { header: true, columns: [...CSV_COLUMNS], record_delimiter: 'windows' });
}
