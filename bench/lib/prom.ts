/** Just enough of the Prometheus text format to read the server's /metrics in the benchmark. */

export type Samples = Map<string, number>;

/** `name{labels}` -> value, for every sample line. */
export function parseProm(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

export function value(samples: Samples, key: string): number {
  return samples.get(key) ?? Number.NaN;
}

/** Cumulative bucket counts of a histogram without labels, sorted by bound. */
export function buckets(samples: Samples, name: string): { le: number; count: number }[] {
  const out: { le: number; count: number }[] = [];
  const prefix = `${name}_bucket{le="`;
  for (const [key, count] of samples) {
    if (!key.startsWith(prefix)) continue;
    const le = key.slice(prefix.length, -2);
    out.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count });
  }
  return out.sort((a, b) => a.le - b.le);
}

/**
 * Quantile of the observations a histogram got between two scrapes, linearly
 * interpolated inside the bucket (as PromQL's histogram_quantile). Seconds; NaN when empty.
 */
export function quantileBetween(before: Samples, after: Samples, name: string, q: number): number {
  const b0 = new Map(buckets(before, name).map((b) => [b.le, b.count]));
  const delta = buckets(after, name).map((b) => ({ le: b.le, count: b.count - (b0.get(b.le) ?? 0) }));
  const total = delta.at(-1)?.count ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const { le, count } of delta) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe; // beyond the last finite bucket
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

export function countBetween(before: Samples, after: Samples, key: string): number {
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}
