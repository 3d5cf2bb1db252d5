import { createWriteStream } from 'node:fs';

/** One offer as the server saw it: written, then acked (epoch ms, fractional; `ackAt` null on a timeout). */
export interface AckTraceRow {
  assignmentId: string;
  volunteerId: string;
  sentAt: number;
  ackAt: number | null;
}

export type AckTrace = (row: AckTraceRow) => void;

/** Wall-clock epoch ms with sub-ms resolution (the browser's `timeOrigin + now()` is on the same clock). */
export const epochNow = (): number => performance.timeOrigin + performance.now();

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
