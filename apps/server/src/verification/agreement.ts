import type { Detection } from '@tabgrid/protocol';
import { DEFAULT_SCORE_THRESHOLD, iou, REPORTED_SCORE_FLOOR } from '@tabgrid/detector';

/** When two results for the same image count as the same answer (PROTOCOL.md rule V2). */
export interface AgreementRule {
  /**
   * Every detection scored at least this is shown and exported (the detector's 0.25), so it must
   * be matched on the other side: a result agrees only if everything it would publish is backed.
   */
  shownScore: number;
  /**
   * Hysteresis: the partner of a shown detection may score as low as this (volunteers report down
   * to REPORTED_SCORE_FLOOR, 0.15), so a detection near `shownScore` that another runtime scores a
   * little lower still finds it. Detections below the floor count for nothing, on either side.
   */
  floorScore: number;
  /** A matching detection has the same label and at least this box IoU. */
  minIoU: number;
  /** … and a score within this distance. */
  scoreTolerance: number;
}

/**
 * Measured on honest pairs (apps/server/test/verification/honest-pairs.test.ts): the same photo
 * bytes through the referee's path (sharp, onnxruntime-node on 1 thread), an agent's (same
 * preprocessing, 2 threads) and a tab's equivalent (decoded straight to the letterbox size by
 * bilinear point sampling, as createImageBitmap's `resizeQuality: 'low'`), on 86 crops, rescales,
 * rotations, JPEG qualities and mosaics of the sample photos: matched shown detections overlap at
 * IoU >= 0.996 and differ by <= 0.003 in score (real Chromium tabs: >= 0.9986 and <= 0.0064,
 * docs/PERFORMANCE.md "Fidelity"). An honest volunteer always gets the very bytes the referee
 * reads, so the rule can be far tighter than the margins transformed copies would need: IoU 0.7
 * and 0.1 in score leave 75x and 15x those margins, and bound what a liar paired with an honest
 * volunteer can move (a box shifted by 17 % of its width, IoU 0.7, is its most; half of that is
 * published, `consensus`). Below `shownScore`, the hysteresis (floor 0.15) absorbs a detection
 * near 0.25 that one runtime scores a little lower.
 */
export const DEFAULT_AGREEMENT: AgreementRule = {
  shownScore: DEFAULT_SCORE_THRESHOLD,
  floorScore: REPORTED_SCORE_FLOOR,
  minIoU: 0.7,
  scoreTolerance: 0.1,
};

export interface Disagreement {
  /** The shown detection that has no match, and on which side it was found. */
  detection: Detection;
  side: 'a' | 'b';
  /** Best same-label IoU on the other side (0 if none). */
  bestIoU: number;
}

/** Whether `c` (on the other side) backs the shown detection `d`. */
function matches(d: Detection, c: Detection, rule: AgreementRule): boolean {
  return (
    c.label === d.label &&
    c.score >= rule.floorScore &&
    Math.abs(c.score - d.score) <= rule.scoreTolerance &&
    iou(d.box, c.box) >= rule.minIoU
  );
}

/** Shown detections of `from` with no matching detection (shown or above the floor) in `to`. */
function unmatched(
  from: readonly Detection[],
  to: readonly Detection[],
  side: 'a' | 'b',
  rule: AgreementRule,
): Disagreement[] {
  const out: Disagreement[] = [];
  for (const d of from) {
    if (d.score < rule.shownScore) continue;
    if (to.some((c) => matches(d, c, rule))) continue;
    const bestIoU = Math.max(0, ...to.filter((c) => c.label === d.label).map((c) => iou(d.box, c.box)));
    out.push({ detection: d, side, bestIoU });
  }
  return out;
}

/**
 * Why two results for the same image disagree (empty = they agree). Symmetric: every shown
 * detection (score >= shownScore) on either side needs a partner on the other side with the same
 * label, IoU >= minIoU, a score within scoreTolerance and at least floorScore.
 */
export function disagreements(
  a: readonly Detection[],
  b: readonly Detection[],
  rule: AgreementRule = DEFAULT_AGREEMENT,
): Disagreement[] {
  return [...unmatched(a, b, 'a', rule), ...unmatched(b, a, 'b', rule)];
}

/** Whether two results for the same image agree under `rule`. */
export function agree(
  a: readonly Detection[],
  b: readonly Detection[],
  rule: AgreementRule = DEFAULT_AGREEMENT,
): boolean {
  return disagreements(a, b, rule).length === 0;
}

/** What a result publishes on its own (the referee's, a trusted volunteer's): its shown detections. */
export function shown(
  detections: readonly Detection[],
  rule: AgreementRule = DEFAULT_AGREEMENT,
): Detection[] {
  return detections.filter((d) => d.score >= rule.shownScore);
}

/**
 * The detections two independent results both back (rule V8, replicated results): pairs of
 * matching detections (same label, IoU >= minIoU, scores within scoreTolerance and >= floorScore),
 * one-to-one, best-overlapping first. Each pair publishes the mean of its two boxes and scores
 * (with two results, the median), kept only if that mean score is still shown. A detection only
 * one side has is never published, and neither side alone decides a box or a score: a liar paired
 * with an honest volunteer moves a published box by at most half its own nudge, within the rule.
 */
export function consensus(
  a: readonly Detection[],
  b: readonly Detection[],
  rule: AgreementRule = DEFAULT_AGREEMENT,
): Detection[] {
  const pairs: { i: number; j: number; overlap: number }[] = [];
  for (const [i, d] of a.entries()) {
    if (d.score < rule.floorScore) continue;
    for (const [j, c] of b.entries()) {
      if (Math.max(d.score, c.score) < rule.shownScore || !matches(d, c, rule)) continue;
      pairs.push({ i, j, overlap: iou(d.box, c.box) });
    }
  }
  pairs.sort((x, y) => y.overlap - x.overlap || x.i - y.i || x.j - y.j);
  const usedA = new Set<number>();
  const usedB = new Set<number>();
  const out: Detection[] = [];
  for (const { i, j } of pairs) {
    if (usedA.has(i) || usedB.has(j)) continue;
    usedA.add(i);
    usedB.add(j);
    const d = a[i]!;
    const c = b[j]!;
    const score = (d.score + c.score) / 2;
    if (score < rule.shownScore) continue;
    const box = d.box.map((v, k) => (v + c.box[k]!) / 2) as Detection['box'];
    out.push({ label: d.label, score, box });
  }
  return out.sort((x, y) => y.score - x.score);
}
