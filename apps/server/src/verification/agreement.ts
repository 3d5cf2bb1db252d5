import type { Detection } from '@tabgrid/protocol';
import { iou } from '@tabgrid/detector';

/** When two results for the same image count as the same answer (PROTOCOL.md rule V2). */
export interface AgreementRule {
  /** A detection scored below this is "uncertain": it need not be matched (its presence may flip between runtimes). */
  confidentScore: number;
  /** A matching detection has the same label and at least this box IoU. */
  minIoU: number;
  /** … and a score within this distance. */
  scoreTolerance: number;
}

/**
 * Defaults measured in agreement.test.ts on real runtime differences (rescaled x0.75/x1.3,
 * JPEG q=80, PNG and mirrored copies of the sample photos through onnxruntime-node). The
 * detector keeps everything from DEFAULT_SCORE_THRESHOLD (0.25); on those copies detections
 * up to ~0.49 appear on one side only, confident ones moved down to IoU 0.64 and by up to 0.25 in score.
 * Browser and agent on the same bytes differ far less (min IoU 0.989, docs/PERFORMANCE.md).
 * A liar's box shifted by 40 % of its width (IoU 0.43) is caught.
 */
export const DEFAULT_AGREEMENT: AgreementRule = {
  confidentScore: 0.5,
  minIoU: 0.5,
  scoreTolerance: 0.25,
};

export interface Disagreement {
  /** The confident detection that has no match, and on which side it was found. */
  detection: Detection;
  side: 'a' | 'b';
  /** Best same-label IoU on the other side (0 if none). */
  bestIoU: number;
}

/** Confident detections of `from` with no matching detection (confident or not) in `to`. */
function unmatched(
  from: readonly Detection[],
  to: readonly Detection[],
  side: 'a' | 'b',
  rule: AgreementRule,
): Disagreement[] {
  const out: Disagreement[] = [];
  for (const d of from) {
    if (d.score < rule.confidentScore) continue;
    let bestIoU = 0;
    let matched = false;
    for (const c of to) {
      if (c.label !== d.label) continue;
      const overlap = iou(d.box, c.box);
      bestIoU = Math.max(bestIoU, overlap);
      if (overlap >= rule.minIoU && Math.abs(c.score - d.score) <= rule.scoreTolerance) matched = true;
    }
    if (!matched) out.push({ detection: d, side, bestIoU });
  }
  return out;
}

/**
 * Why two results for the same image disagree (empty = they agree). Symmetric: every
 * confident detection on either side needs a partner on the other side with the same label,
 * IoU >= minIoU and a score within scoreTolerance; the partner itself may be uncertain.
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
