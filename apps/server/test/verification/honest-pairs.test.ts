/**
 * Issue 17 B's goal: honest volunteers' false-disagreement rate under the agreement rule (V2) is
 * at most 1 % of honest pairs. Varied photos are made here with sharp from the sample photos
 * (crops, rescales, rotations, JPEG qualities, blur, grey, mosaics), and each goes, as the same
 * bytes, through the paths whose results get compared:
 * - the referee's: sharp + the shared pipeline on onnxruntime-node, 1 thread (referee-worker.ts);
 * - an agent's: the same preprocessing, onnxruntime-node on 2 threads (runner-pool.ts);
 * - a tab's equivalent: the browser decodes straight to the letterbox size
 *   (createImageBitmap, `resizeQuality: 'low'`), then `detectResized`. Here: bilinear point
 *   sampling in float (Skia's bilinear, not OpenCV's fixed point), and, as a harsher stand-in for a
 *   browser that filters, libvips' antialiasing `linear` reduce. onnxruntime-web itself is not run
 *   (that is e2e/fidelity.spec.ts); its WASM kernels are MLAS like onnxruntime-node's.
 * All report down to REPORTED_SCORE_FLOOR, as volunteers and the referee do.
 *
 *   npx vitest run apps/server/test/verification/honest-pairs.test.ts
 *   (TABGRID_AGREEMENT_DEBUG=1 prints every disagreement and the margins)
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detection } from '@tabgrid/protocol';
import {
  detect,
  detectResized,
  iou,
  letterboxGeometry,
  parseLabels,
  REPORTED_SCORE_FLOOR,
  type Pixels,
} from '@tabgrid/detector';
import { createOrtRunner, decodeImage, type OrtRunner } from '@tabgrid/node-runner';
import { labelsPath, modelPath, sampleImages } from '../../../../scripts/assets';
import { DEFAULT_AGREEMENT, disagreements, shown } from '../../src/verification/agreement';

const FLOOR = { scoreThreshold: REPORTED_SCORE_FLOOR };

type Make = (b: Buffer) => Promise<Buffer>;
const oriented = (b: Buffer) => sharp(b).autoOrient();
const VARIANTS: [string, Make][] = [
  ['as uploaded', async (b) => b],
  ['x0.5 q85', async (b) => oriented(b).resize({ width: 320 }).jpeg({ quality: 85 }).toBuffer()],
  [
    'x1.6 q90',
    async (b) => {
      const m = await oriented(b).metadata();
      return oriented(b)
        .resize({ width: Math.round((m.autoOrient?.width ?? m.width) * 1.6) })
        .jpeg({ quality: 90 })
        .toBuffer();
    },
  ],
  [
    'crop 60%',
    async (b) => {
      const { info } = await oriented(b).toBuffer({ resolveWithObject: true });
      const w = Math.round(info.width * 0.6);
      const h = Math.round(info.height * 0.6);
      return oriented(b)
        .extract({
          left: Math.round(info.width * 0.2),
          top: Math.round(info.height * 0.1),
          width: w,
          height: h,
        })
        .jpeg({ quality: 92 })
        .toBuffer();
    },
  ],
  ['rotated 90', async (b) => oriented(b).rotate(90).jpeg({ quality: 92 }).toBuffer()],
  [
    'rotated 7',
    async (b) => oriented(b).rotate(7, { background: '#808080' }).jpeg({ quality: 88 }).toBuffer(),
  ],
  ['q=35', async (b) => oriented(b).jpeg({ quality: 35 }).toBuffer()],
  ['PNG grey', async (b) => oriented(b).greyscale().png().toBuffer()],
  ['blur 1.2 webp', async (b) => oriented(b).blur(1.2).webp({ quality: 80 }).toBuffer()],
];

async function mosaic(parts: Buffer[]): Promise<Buffer> {
  const tiles = await Promise.all(
    parts.map((p) => oriented(p).resize(400, 300, { fit: 'cover' }).toBuffer()),
  );
  return sharp({ create: { width: 800, height: 600, channels: 3, background: '#000' } })
    .composite(tiles.map((input, i) => ({ input, left: (i % 2) * 400, top: Math.floor(i / 2) * 300 })))
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** Bilinear point sampling to the letterbox size in float (half-pixel centres, edge clamp). */
function bilinearTo(p: Pixels, width: number, height: number): Pixels {
  const out = new Uint8Array(width * height * 3);
  const sx = p.width / width;
  const sy = p.height / height;
  const at = (x: number, y: number, c: number) => p.data[(y * p.width + x) * p.channels + c]!;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), p.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, p.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), p.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, p.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const top = at(x0, y0, c) * (1 - wx) + at(x1, y0, c) * wx;
        const bottom = at(x0, y1, c) * (1 - wx) + at(x1, y1, c) * wx;
        out[(y * width + x) * 3 + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return { data: out, width, height, channels: 3 };
}

interface Photo {
  name: string;
  referee: Detection[];
  agent: Detection[];
  tabBilinear: Detection[];
  tabFiltered: Detection[];
}

let labels: string[];
let one: OrtRunner;
let two: OrtRunner;
const photos: Photo[] = [];

beforeAll(async () => {
  labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  one = await createOrtRunner(modelPath(), { threads: 1 });
  two = await createOrtRunner(modelPath(), { threads: 2 });
  const sources = await Promise.all(
    sampleImages().map(async (i) => ({ name: i.name, bytes: await readFile(i.path) })),
  );
  const made: { name: string; bytes: Buffer }[] = [];
  for (const s of sources)
    for (const [v, make] of VARIANTS) made.push({ name: `${s.name} ${v}`, bytes: await make(s.bytes) });
  for (let k = 0; k < sources.length; k += 2) {
    const four = [0, 1, 2, 3].map((i) => sources[(k + i) % sources.length]!.bytes);
    made.push({ name: `mosaic ${k}`, bytes: await mosaic(four) });
  }
  for (const { name, bytes } of made) {
    const pixels = await decodeImage(bytes);
    const g = letterboxGeometry(pixels.width, pixels.height);
    const original = { width: pixels.width, height: pixels.height };
    const filtered = await sharp(bytes)
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .resize(g.width, g.height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const filteredPixels: Pixels = {
      data: new Uint8Array(filtered.data),
      width: filtered.info.width,
      height: filtered.info.height,
      channels: 3,
    };
    photos.push({
      name,
      referee: (await detect(one.run, pixels, labels, FLOOR)).detections,
      agent: (await detect(two.run, pixels, labels, FLOOR)).detections,
      tabBilinear: (
        await detectResized(two.run, bilinearTo(pixels, g.width, g.height), original, labels, FLOOR)
      ).detections,
      tabFiltered: (await detectResized(two.run, filteredPixels, original, labels, FLOOR)).detections,
    });
  }
}, 600_000);

afterAll(async () => {
  await one?.close();
  await two?.close();
});

type Side = Exclude<keyof Photo, 'name'>;

/** Honest pairs of two paths that disagree, and the worst margins of those that agree. */
function compare(a: Side, b: Side, only = (d: Detection[]) => d) {
  const failed: string[] = [];
  let minIoU = 1;
  let maxScoreGap = 0;
  for (const p of photos) {
    const why = disagreements(only(p[a]), p[b]);
    if (why.length > 0)
      failed.push(
        `${p.name}: ${why.map((w) => `${w.side} ${w.detection.label} ${w.detection.score.toFixed(3)} iou ${w.bestIoU.toFixed(2)}`).join('; ')}`,
      );
    for (const d of shown(p[a])) {
      const best = p[b]
        .filter((c) => c.label === d.label && c.score >= DEFAULT_AGREEMENT.floorScore)
        .sort((x, y) => iou(d.box, y.box) - iou(d.box, x.box))[0];
      if (!best) continue;
      minIoU = Math.min(minIoU, iou(d.box, best.box));
      maxScoreGap = Math.max(maxScoreGap, Math.abs(best.score - d.score));
    }
  }
  const line = `[honest-pairs] ${a} vs ${b}: ${failed.length}/${photos.length} disagree (${((100 * failed.length) / photos.length).toFixed(2)} %), matched min IoU ${minIoU.toFixed(3)}, max score gap ${maxScoreGap.toFixed(3)}`;
  console.log(line);
  if (process.env.TABGRID_AGREEMENT_DEBUG) for (const f of failed) console.log(`  ${f}`);
  return failed;
}

describe('honest false disagreements (issue 17 B goal: <= 1 % of honest pairs)', () => {
  it('has varied photos with shown detections', () => {
    expect(photos.length).toBeGreaterThanOrEqual(80);
    expect(photos.flatMap((p) => shown(p.referee)).length).toBeGreaterThan(200);
  });

  it('agent vs referee', () => {
    expect(compare('agent', 'referee').length).toBeLessThanOrEqual(photos.length / 100);
  });

  it("tab vs agent (the browser's bilinear decode to the letterbox size)", () => {
    expect(compare('tabBilinear', 'agent').length).toBeLessThanOrEqual(photos.length / 100);
  });

  it('tab vs referee, and a harsher tab that filters when it resizes (reported, not a goal)', () => {
    compare('tabBilinear', 'referee');
    compare('tabFiltered', 'agent');
    // An old client reporting only from 0.25 against a new one (rule V2's note): agrees less often.
    compare('tabBilinear', 'agent', (d) => shown(d));
  });
});
