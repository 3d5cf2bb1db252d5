/**
 * Known-answer test for the native reference detector (onnxruntime-node +
 * sharp + the shared pipeline) on the real model and the sample photos.
 * Needs `public/models/` (scripts/install-assets.mjs) and the sample images;
 * fails, never skips, when they are missing.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectionSchema, type Detection } from '@tabgrid/protocol';
import { parseLabels } from '@tabgrid/detector';
import { labelsPath, modelPath, sampleImage, sampleImages } from '../../../scripts/assets';
import { createNativeDetector, type NativeDetector } from '@tabgrid/node-runner';

let native: NativeDetector;
const results = new Map<string, Detection[]>();

beforeAll(async () => {
  const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  native = await createNativeDetector(modelPath(), labels);
});

afterAll(async () => {
  await native?.close();
});

const confident = (detections: Detection[], label: string) =>
  detections.filter((d) => d.label === label && d.score >= 0.5);

describe('native reference detector', () => {
  it('runs on every sample image and returns valid detections', async () => {
    const images = sampleImages();
    expect(images.length).toBeGreaterThanOrEqual(1);
    for (const image of images) {
      const { detections, width, height } = await native.detectTimed(await readFile(image.path));
      expect(width, image.name).toBeGreaterThan(0);
      for (const d of detections) {
        expect(DetectionSchema.safeParse(d).success, `${image.name}: ${JSON.stringify(d)}`).toBe(true);
        expect(d.box[2], image.name).toBeLessThanOrEqual(width);
        expect(d.box[3], image.name).toBeLessThanOrEqual(height);
      }
      // Sorted by score, highest first.
      const scores = detections.map((d) => d.score);
      expect(scores, image.name).toEqual([...scores].sort((a, b) => b - a));
      results.set(image.name, detections);
    }
  });

  it('finds one bus and three people on bus.jpg', async () => {
    const detections = await native.detect(await readFile(sampleImage('bus.jpg')));
    const buses = confident(detections, 'bus');
    const people = confident(detections, 'person');
    expect(buses, JSON.stringify(detections)).toHaveLength(1);
    expect(buses[0]!.score).toBeGreaterThanOrEqual(0.85);
    expect(people, JSON.stringify(detections)).toHaveLength(3);
    for (const p of people) expect(p.score).toBeGreaterThanOrEqual(0.6);
    // The bus spans most of the 810 px width.
    expect(buses[0]!.box[2] - buses[0]!.box[0]).toBeGreaterThan(600);
  });

  it('is deterministic: a second run gives identical detections', async () => {
    expect(results.size, 'the first test must have run').toBeGreaterThan(0);
    for (const [name, first] of results) {
      const again = await native.detect(await readFile(sampleImage(name)));
      expect(again, name).toEqual(first);
    }
  });

  it('rejects bytes that are not an image', async () => {
    await expect(native.detect(new TextEncoder().encode('not an image'))).rejects.toMatchObject({
      name: 'UndecodableImageError',
    });
  });
});
