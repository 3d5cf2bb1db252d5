/**
 * The agreement rule (PROTOCOL.md V2) on real detections: each sample photo through the real
 * onnxruntime-node detector, down to the floor volunteers report to. Results a liar would send
 * (random boxes, nothing, another photo's result, shifted, relabelled, rescored boxes, confident
 * boxes hidden, boxes nudged, sub-0.5 boxes added) must not agree. Honest pairs (the same bytes
 * through the referee's, an agent's and a tab's paths) are measured in honest-pairs.test.ts.
 * Transformed copies of a photo (rescaled, re-encoded) are other photos: honest volunteers always
 * get the bytes the referee reads, and the rule is no longer loose enough to pass such copies.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detection } from '@tabgrid/protocol';
import { iou, parseLabels, REPORTED_SCORE_FLOOR } from '@tabgrid/detector';
import { createNativeDetector, type NativeDetector } from '@tabgrid/node-runner';
import { labelsPath, modelPath, sampleImages } from '../../../../scripts/assets';
import { agree, consensus, shown } from '../../src/verification/agreement';

let native: NativeDetector;
const photos: { name: string; width: number; height: number; original: Detection[] }[] = [];

beforeAll(async () => {
  const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  native = await createNativeDetector(modelPath(), labels, {
    threads: 1,
    scoreThreshold: REPORTED_SCORE_FLOOR,
  });
  for (const image of sampleImages()) {
    const { detections, width, height } = await native.detectTimed(await readFile(image.path));
    photos.push({ name: image.name, width, height, original: detections });
  }
}, 120_000);

afterAll(async () => {
  await native?.close();
});

describe('agreement rule on real runtime differences', () => {
  it('has real detections to compare', () => {
    const confident = photos.flatMap((p) => p.original).filter((d) => d.score >= 0.5);
    expect(confident.length).toBeGreaterThan(5);
  });

  it('rejects what liars send', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const [i, p] of photos.entries()) {
      const confident = p.original.filter((d) => d.score >= 0.5);
      if (confident.length === 0) continue;
      const other = photos[(i + 1) % photos.length]!.original;
      const plausible: Detection[] = confident.map((d) => {
        const x = random() * p.width * 0.7;
        const y = random() * p.height * 0.7;
        return { ...d, box: [x, y, x + p.width * 0.2, y + p.height * 0.2], score: 0.5 + random() / 2 };
      });
      const shifted = p.original.map((d) => {
        const w = d.box[2] - d.box[0];
        return {
          ...d,
          box: [d.box[0] + w * 0.4, d.box[1], d.box[2] + w * 0.4, d.box[3]] as Detection['box'],
        };
      });
      const relabelled = p.original.map((d) => ({ ...d, label: d.label === 'person' ? 'dog' : 'person' }));
      const rescored = p.original.map((d) => ({ ...d, score: d.score >= 0.7 ? d.score - 0.3 : d.score }));
      expect(agree(p.original, []), `${p.name}: empty`).toBe(false);
      expect(agree(p.original, plausible), `${p.name}: random boxes`).toBe(false);
      expect(agree(p.original, other), `${p.name}: another photo's result`).toBe(false);
      expect(agree(p.original, shifted), `${p.name}: shifted boxes`).toBe(false);
      expect(agree(p.original, relabelled), `${p.name}: relabelled`).toBe(false);
      if (confident.some((d) => d.score >= 0.7)) {
        expect(agree(p.original, rescored), `${p.name}: rescored`).toBe(false);
      }
    }
  });

  it('is symmetric', () => {
    for (const [i, p] of photos.entries()) {
      const other = photos[(i + 1) % photos.length]!.original;
      for (const b of [p.original, other, [], shown(p.original)])
        expect(agree(b, p.original), p.name).toBe(agree(p.original, b));
    }
  });

  it('holds every shown detection (>= 0.25) to a match above the floor, not only confident ones', () => {
    const d: Detection = { label: 'cup', score: 0.3, box: [0, 0, 10, 10] };
    // Shown: needs a partner. Hidden on the other side is a disagreement (it was not before: < 0.5).
    expect(agree([d], [])).toBe(false);
    // Hysteresis: a partner below 0.25 but above the floor backs it.
    expect(agree([d], [{ ...d, score: 0.21 }])).toBe(true);
    expect(agree([{ ...d, score: 0.25 }], [{ ...d, score: REPORTED_SCORE_FLOOR + 0.005 }])).toBe(true);
    // Below the floor counts for nothing, on either side.
    expect(agree([d], [{ ...d, score: REPORTED_SCORE_FLOOR - 0.01 }])).toBe(false);
    // Not shown: a detection under 0.25 on one side only is fine (its presence may flip between runtimes).
    expect(agree([{ ...d, score: 0.24 }], [])).toBe(true);
    // A nudged box or a moved score beyond the (measured) tolerance does not match.
    expect(agree([d], [{ ...d, box: [2, 0, 12, 10] }])).toBe(false); // IoU 0.67
    expect(agree([d], [{ ...d, box: [1, 0, 11, 10] }])).toBe(true); // IoU 0.82
    expect(agree([{ ...d, score: 0.9 }], [{ ...d, score: 0.75 }])).toBe(false);
  });

  it('catches the tampered-within-the-old-tolerance liar of issue 17 on every photo', () => {
    let checked = 0;
    for (const p of photos) {
      const confident = p.original.filter((d) => d.score >= 0.5);
      if (confident.length < 2) continue;
      checked++;
      // Hide all confident detections but one, as the measured attack did (1 published of 6).
      const hidden = p.original.filter((d) => d.score < 0.5 || d === confident[0]);
      // Add sub-0.5 boxes the referee never found.
      const added = [
        ...p.original,
        ...Array.from({ length: 20 }, (_, k): Detection => ({
          label: 'person',
          score: 0.3 + (k % 10) / 60,
          box: [k * 7, k * 5, k * 7 + 40, k * 5 + 60],
        })),
      ];
      expect(agree(p.original, hidden), `${p.name}: hidden`).toBe(false);
      expect(agree(p.original, added), `${p.name}: added`).toBe(false);
    }
    expect(checked).toBeGreaterThan(2);
  });

  it('publishes of two results only what both back: mean boxes and scores, shown ones', () => {
    const a: Detection[] = [
      { label: 'dog', score: 0.9, box: [0, 0, 100, 100] },
      { label: 'cat', score: 0.27, box: [200, 200, 260, 260] },
      { label: 'cup', score: 0.4, box: [300, 300, 320, 320] },
    ];
    const b: Detection[] = [
      { label: 'dog', score: 0.86, box: [4, 0, 104, 100] },
      { label: 'cat', score: 0.2, box: [200, 200, 260, 260] },
      { label: 'person', score: 0.45, box: [0, 0, 50, 100] },
    ];
    const out = consensus(a, b);
    expect(out.map((d) => d.label)).toEqual(['dog']);
    expect(out[0]!.score).toBeCloseTo(0.88, 9);
    expect(out[0]!.box).toEqual([2, 0, 102, 100]);
    expect(out.every((d) => a.some((x) => x.label === d.label && iou(x.box, d.box) > 0.9))).toBe(true);
    // The same either way round.
    expect(consensus(b, a)).toEqual(out);
    // An honest pair publishes all it shows.
    for (const p of photos) expect(consensus(p.original, p.original)).toEqual(shown(p.original));
  });
});
