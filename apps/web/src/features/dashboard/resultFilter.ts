import type { Detection, TaskView } from '@tabgrid/protocol';
import { formatScore } from '../../lib/format';

/** The score slider's range and start (detections below 0.25 are mostly noise). */
export const SCORE = { min: 0.25, max: 1, step: 0.05, initial: 0.5 } as const;

export interface ResultFilter {
  minScore: number;
  /** Classes switched off. */
  hidden: ReadonlySet<string>;
}

export const INITIAL_FILTER: ResultFilter = { minScore: SCORE.initial, hidden: new Set() };

/** The detections a filter lets through, highest score first. */
export function visibleDetections(detections: readonly Detection[], filter: ResultFilter): Detection[] {
  return detections
    .filter((d) => d.score >= filter.minScore && !filter.hidden.has(d.label))
    .sort((a, b) => b.score - a.score);
}

/** Detections per class at or above `minScore` across a job's tasks, most frequent first. */
export function classCounts(tasks: readonly TaskView[], minScore: number): [string, number][] {
  const counts = new Map<string, number>();
  for (const t of tasks)
    for (const d of t.detections)
      if (d.score >= minScore) counts.set(d.label, (counts.get(d.label) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Alt text for a result: the photo's name and what was found, e.g. "bus.jpg: 4 persons, bus (0.91)". */
export function altText(name: string, shown: readonly Detection[], status: TaskView['status']): string {
  if (status !== 'done') return `${name}: ${status}`;
  if (shown.length === 0) return `${name}: no objects found at this score`;
  return `${name}: ${shown.map((d) => `${d.label} ${formatScore(d.score)}`).join(', ')}`;
}
