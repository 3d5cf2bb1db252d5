/**
 * Technique 5 (Node part): server-side pre-resizing to the 416 letterbox.
 * For every sample photo: bytes of the original vs a JPEG resized with sharp to fit 416x416
 * (quality 90), and the native detector's detections on both (boxes of the pre-resized image
 * scaled back to original pixels), matched greedily by label and IoU.
 * Writes the 416 versions to $TMPDIR/tabgrid-preresized/ for the browser experiment.
 *
 *   npx tsx bench/experiments/preresize.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parseLabels } from '@tabgrid/detector';
import type { Detection } from '@tabgrid/protocol';
import { createNativeDetector } from '@tabgrid/node-runner';
import { imagesDir, labelsPath, modelPath } from '../../scripts/assets';

export const PRERESIZED_DIR = path.join(os.tmpdir(), 'tabgrid-preresized');

const iou = (a: number[], b: number[]) => {
  const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = w * h;
  const u = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
  return u > 0 ? inter / u : 0;
};

function match(ref: Detection[], other: Detection[]) {
  const used = new Set<number>();
  const ious: number[] = [];
  const scoreDiffs: number[] = [];
  for (const r of [...ref].sort((a, b) => b.score - a.score)) {
    let best = -1;
    let bestIou = 0.5; // a match needs IoU >= 0.5 and the same label
    other.forEach((o, j) => {
      if (used.has(j) || o.label !== r.label) return;
      const v = iou(r.box, o.box);
      if (v >= bestIou) [best, bestIou] = [j, v];
    });
    if (best >= 0) {
      used.add(best);
      ious.push(bestIou);
      scoreDiffs.push(Math.abs(other[best]!.score - r.score));
    }
  }
  return {
    matched: ious.length,
    onlyOriginal: ref.length - ious.length,
    onlyResized: other.length - used.size,
    ious,
    scoreDiffs,
  };
}

async function main() {
  mkdirSync(PRERESIZED_DIR, { recursive: true });
  const labels = parseLabels(readFileSync(labelsPath(), 'utf8'));
  const native = await createNativeDetector(modelPath(), labels);
  const rows = [];
  const allIou: number[] = [];
  let totals = { orig: 0, small: 0, matched: 0, onlyOriginal: 0, onlyResized: 0 };
  for (const name of [
    '000004.jpg',
    '000139.jpg',
    '000148.jpg',
    '000181.jpg',
    '000230.jpg',
    'bus.jpg',
    'dog.jpg',
    'person.jpg',
    'street.png',
  ]) {
    const original = readFileSync(path.join(imagesDir(), name));
    const meta = await sharp(original).rotate().metadata();
    const t0 = performance.now();
    const small = await sharp(original)
      .rotate()
      .resize(416, 416, { fit: 'inside' })
      .jpeg({ quality: 90 })
      .toBuffer();
    const resizeMs = performance.now() - t0;
    writeFileSync(path.join(PRERESIZED_DIR, name.replace(/\.\w+$/, '.jpg')), small);
    const a = await native.detectTimed(original);
    const b = await native.detectTimed(small);
    const sx = a.width / b.width;
    const sy = a.height / b.height;
    const scaled = b.detections.map((d) => ({
      ...d,
      box: [d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy] as Detection['box'],
    }));
    const m = match(a.detections, scaled);
    allIou.push(...m.ious);
    totals = {
      orig: totals.orig + original.length,
      small: totals.small + small.length,
      matched: totals.matched + m.matched,
      onlyOriginal: totals.onlyOriginal + m.onlyOriginal,
      onlyResized: totals.onlyResized + m.onlyResized,
    };
    rows.push({
      name,
      size: `${meta.width}x${meta.height}`,
      resized: `${b.width}x${b.height}`,
      bytes: original.length,
      bytes416: small.length,
      sharpResizeMs: Math.round(resizeMs * 10) / 10,
      detections: a.detections.length,
      detections416: b.detections.length,
      matched: m.matched,
      meanIou: m.ious.length
        ? Math.round((m.ious.reduce((x, y) => x + y, 0) / m.ious.length) * 1000) / 1000
        : null,
      minIou: m.ious.length ? Math.round(Math.min(...m.ious) * 1000) / 1000 : null,
      maxScoreDiff: m.scoreDiffs.length ? Math.round(Math.max(...m.scoreDiffs) * 1000) / 1000 : null,
    });
  }
  await native.close();
  console.table(rows);
  const sorted = [...allIou].sort((x, y) => x - y);
  console.log(
    JSON.stringify(
      {
        totals,
        meanIou: allIou.reduce((x, y) => x + y, 0) / allIou.length,
        medianIou: sorted[Math.floor(sorted.length / 2)],
        minIou: sorted[0],
        dir: PRERESIZED_DIR,
      },
      null,
      2,
    ),
  );
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
