import type { Detection } from '@tabgrid/protocol';

/** Half a pixel of slack for rounding at the image border. */
const EDGE_SLACK = 0.5;

/**
 * Checks that a result could have come from the model on this image: known
 * labels and boxes inside the image. Returns a reason, or null when plausible.
 * (Shape, NaN and ranges are already enforced by TaskResultSchema.)
 */
export function impossibleResultReason(
  detections: readonly Detection[],
  image: { width: number; height: number },
  labels: ReadonlySet<string>,
): string | null {
  for (const [i, d] of detections.entries()) {
    if (!labels.has(d.label)) return `detection ${i}: unknown label "${d.label.slice(0, 64)}"`;
    const [x1, y1, x2, y2] = d.box;
    if (
      x1 < -EDGE_SLACK ||
      y1 < -EDGE_SLACK ||
      x2 > image.width + EDGE_SLACK ||
      y2 > image.height + EDGE_SLACK
    ) {
      return `detection ${i}: box [${d.box.join(', ')}] lies outside the ${image.width}x${image.height} image`;
    }
  }
  return null;
}
