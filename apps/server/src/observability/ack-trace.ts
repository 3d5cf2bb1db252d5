import { createWriteStream } from 'node:fs';

/** One offer as the server saw it: written, then acked (`Date.now()` ms, the browser's clock too). */
export interface AckTraceRow {
  assignmentId: string;
  volunteerId: string;
  sentAt: number;
  ackAt: number;
}

export type AckTrace = (row: AckTraceRow) => void;

/**
 * Measuring only (env `TABGRID_ACK_TRACE=<file>`, unset in production): one JSON line per offer,
 * appended through a stream, so the bench can join the server's emit and ack times with the
 * tab's own (`?measure=1`) by assignment id.
 */
export function openAckTrace(file: string | null | undefined): AckTrace | undefined {
  if (!file) return undefined;
  const out = createWriteStream(file, { flags: 'a' });
  return (row) => out.write(`${JSON.stringify(row)}\n`);
}
