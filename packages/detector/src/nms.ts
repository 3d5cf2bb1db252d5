/** `[x1, y1, x2, y2]` */
export type Box = [number, number, number, number];

/** Intersection over union of two boxes; 0 when either has no area. */
export function iou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

export interface Scored {
  classId: number;
  score: number;
  box: Box;
}

/**
 * Per-class greedy non-maximum suppression: within each class, keep the
 * highest-scoring box and drop every other whose IoU with a kept one exceeds
 * `iouThreshold`. Returns the kept items sorted by score, highest first.
 */
export function nmsPerClass<T extends Scored>(items: readonly T[], iouThreshold: number): T[] {
  const sorted = [...items].sort((x, y) => y.score - x.score);
  const kept: T[] = [];
  for (const candidate of sorted) {
    let suppressed = false;
    for (const k of kept) {
      if (k.classId === candidate.classId && iou(k.box, candidate.box) > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}
