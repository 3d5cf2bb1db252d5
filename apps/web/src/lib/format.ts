/** `123 ms`, `1.23 s`, or an em dash for missing values. */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.round(ms)} ms`;
}

export const formatScore = (score: number) => score.toFixed(2);

/** `20 MiB`, `512 KiB`, `900 bytes`: a byte count as people read it. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB'];
  if (bytes < 1024) return `${bytes} bytes`;
  let value = bytes;
  let unit = 'bytes';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
}
