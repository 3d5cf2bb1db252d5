import type { Detection } from '@tabgrid/protocol';
import { formatScore } from '../lib/format';

/** Detections at or above this score are listed and drawn on every page. */
export const SHOWN_MIN_SCORE = 0.5;

/** Detections worth showing, in the order the detector returned them (highest score first). */
export const shownDetections = (detections: readonly Detection[]) =>
  detections.filter((d) => d.score >= SHOWN_MIN_SCORE);

/** The text list of labels and scores under a photo (e.g. "bus 0.91"). */
export function DetectionList({ detections }: { detections: readonly Detection[] }) {
  return (
    <ul className="detections">
      {detections.map((d, i) => (
        <li key={i} data-testid="detection-label">
          {d.label} {formatScore(d.score)}
        </li>
      ))}
    </ul>
  );
}
