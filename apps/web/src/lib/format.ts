/** `123 ms`, `1.23 s`, or an em dash for missing values. */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.round(ms)} ms`;
}

export const formatScore = (score: number) => score.toFixed(2);
