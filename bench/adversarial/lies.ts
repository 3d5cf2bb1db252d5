/**
 * What a liar answers instead of running the model. Pure and seeded, so a run can be repeated.
 */
import type { Detection } from '@tabgrid/protocol';

/** A small deterministic PRNG (mulberry32); returns [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1-4 confident boxes with real labels, inside a `width` x `height` image: plausible, and wrong. */
export function randomBoxes(
  random: () => number,
  labels: readonly string[],
  width: number,
  height: number,
): Detection[] {
  const n = 1 + Math.floor(random() * 4);
  return Array.from({ length: n }, () => {
    const x1 = random() * width * 0.7;
    const y1 = random() * height * 0.7;
    const x2 = Math.min(width, x1 + (0.1 + random() * 0.3) * width);
    const y2 = Math.min(height, y1 + (0.1 + random() * 0.3) * height);
    return {
      label: labels[Math.floor(random() * labels.length)] ?? 'person',
      score: 0.6 + random() * 0.39,
      box: [x1, y1, x2, y2],
    };
  });
}

/** A box the model cannot produce: far outside the image. */
export const impossibleBoxes = (width: number, height: number): Detection[] => [
  { label: 'person', score: 0.9, box: [0, 0, width + 500, height + 500] },
];

/**
 * The true answer tampered within the old agreement rule (only detections >= 0.5 compared; issue
 * 17 B's measured attack): uncertain detections hidden, confident ones shrunk by 10 % a side (IoU
 * 0.64) and scored 0.2 lower, and `added` boxes scored 0.26-0.49 at random places.
 */
export function tamperWithinOldRule(
  truth: readonly Detection[],
  random: () => number,
  width: number,
  height: number,
  added = 120,
): Detection[] {
  const confident = truth
    .filter((d) => d.score >= 0.5)
    .map((d): Detection => {
      const [x1, y1, x2, y2] = d.box;
      const dx = (x2 - x1) * 0.1;
      const dy = (y2 - y1) * 0.1;
      return { ...d, score: d.score - 0.2, box: [x1 + dx, y1 + dy, x2 - dx, y2 - dy] };
    });
  const extra = Array.from({ length: added }, (): Detection => {
    const x = random() * width * 0.8;
    const y = random() * height * 0.8;
    return {
      label: 'person',
      score: 0.26 + random() * 0.23,
      box: [x, y, Math.min(width, x + width * 0.1), Math.min(height, y + height * 0.1)],
    };
  });
  return [...confident, ...extra];
}
