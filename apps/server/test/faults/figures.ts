import fs from 'node:fs';

/**
 * Measured figures of the fault tests (for docs/RELIABILITY.md), appended as
 * JSON lines to `$TABGRID_FAULT_FIGURES` when it is set; nothing otherwise.
 * Timings are reported, never asserted beyond generous bounds.
 */
export function recordFigure(test: string, figures: Record<string, number>): void {
  const file = process.env.TABGRID_FAULT_FIGURES;
  if (!file) return;
  const rounded = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v)]));
  fs.appendFileSync(file, `${JSON.stringify({ test, ...rounded })}\n`);
}
