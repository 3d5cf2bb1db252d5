import { describe, expect, it } from 'vitest';
import { INPUT_SIZE, NUM_ANCHORS, ROW_SIZE } from './constants';
import { letterboxGeometry, letterboxToTensor } from './letterbox';
import { detect, detectResized, toDetections } from './pipeline';

const LABELS = Array.from({ length: 80 }, (_, i) => (i === 5 ? 'bus' : `c${i}`));

describe('toDetections', () => {
  it('names classes and rounds scores to 1e-4 and boxes to 0.01 px', () => {
    const [d] = toDetections([{ classId: 5, score: 0.123456, box: [1.23456, 2.5, 3.14159, 99.999] }], LABELS);
    expect(d).toEqual({ label: 'bus', score: 0.1235, box: [1.23, 2.5, 3.14, 100] });
  });

  it('falls back to class_<n> for a class without a label', () => {
    expect(toDetections([{ classId: 7, score: 1, box: [0, 0, 1, 1] }], ['a'])[0]!.label).toBe('class_7');
  });

  it('keeps the order it is given', () => {
    const out = toDetections(
      [
        { classId: 1, score: 0.9, box: [0, 0, 1, 1] },
        { classId: 2, score: 0.5, box: [0, 0, 1, 1] },
      ],
      LABELS,
    );
    expect(out.map((d) => d.label)).toEqual(['c1', 'c2']);
  });
});

describe('detect', () => {
  it('feeds the letterboxed tensor to the runner and maps boxes back to the original image', async () => {
    // 832x624 image: scale 0.5, placed 416x312.
    const width = 832;
    const height = 624;
    const pixels = { data: new Uint8Array(width * height * 3).fill(50), width, height, channels: 3 as const };
    let seen: Float32Array | null = null;
    const run = async (input: Float32Array) => {
      seen = input;
      const out = new Float32Array(NUM_ANCHORS * ROW_SIZE);
      // Stride 32, cell (4, 3): centre (4.5 * 32, 3.5 * 32) = (144, 112), 64x96 -> [112, 64, 176, 160].
      const base = (52 * 52 + 26 * 26 + 3 * 13 + 4) * ROW_SIZE;
      out.set([0.5, 0.5, Math.log(2), Math.log(3), 0.95], base);
      out[base + 5 + 5] = 0.9;
      return out;
    };
    const { detections, timings } = await detect(run, pixels, LABELS);
    expect(seen).not.toBeNull();
    expect(seen!.length).toBe(3 * INPUT_SIZE * INPUT_SIZE);
    expect(seen![0]).toBe(50); // placed region
    expect(seen![INPUT_SIZE * INPUT_SIZE - 1]).toBe(114); // bottom-right of channel 0 is padding
    expect(detections).toEqual([{ label: 'bus', score: 0.855, box: [224, 128, 352, 320] }]);
    for (const v of Object.values(timings)) expect(v).toBeGreaterThanOrEqual(0);
  });

  it('passes score and IoU thresholds through to the decoder', async () => {
    const pixels = { data: new Uint8Array(416 * 416 * 3), width: 416, height: 416, channels: 3 as const };
    const run = async () => {
      const out = new Float32Array(NUM_ANCHORS * ROW_SIZE);
      out.set([0, 0, 0, 0, 0.5, 0.4], 100 * ROW_SIZE); // score 0.2
      return out;
    };
    expect((await detect(run, pixels, LABELS)).detections).toEqual([]);
    expect((await detect(run, pixels, LABELS, { scoreThreshold: 0.1 })).detections).toHaveLength(1);
  });

  it('propagates runner failures', async () => {
    const pixels = { data: new Uint8Array(3), width: 1, height: 1, channels: 3 as const };
    await expect(detect(() => Promise.reject(new Error('boom')), pixels, LABELS)).rejects.toThrow('boom');
  });
});

describe('detectResized', () => {
  /** One detection: stride 32, cell (4, 3), centre (144, 112) in model pixels, 64x96 -> [112, 64, 176, 160]. */
  const oneBus = async () => {
    const out = new Float32Array(NUM_ANCHORS * ROW_SIZE);
    const base = (52 * 52 + 26 * 26 + 3 * 13 + 4) * ROW_SIZE;
    out.set([0.5, 0.5, Math.log(2), Math.log(3), 0.95], base);
    out[base + 5 + 5] = 0.9;
    return out;
  };

  it('maps boxes back to ORIGINAL pixels with the letterbox scale (810x1080 decoded at 312x416)', async () => {
    const original = { width: 810, height: 1080 };
    const g = letterboxGeometry(original.width, original.height);
    expect([g.width, g.height]).toEqual([312, 416]);
    const resized = {
      data: new Uint8Array(g.width * g.height * 4).fill(80),
      width: 312,
      height: 416,
      channels: 4 as const,
    };
    const { detections } = await detectResized(oneBus, resized, original, LABELS);
    const r = g.scale;
    expect(detections).toHaveLength(1);
    const box = detections[0]!.box;
    const expected = [112 / r, 64 / r, 176 / r, 160 / r];
    box.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 1));
    expect(box[3]).toBeLessThanOrEqual(original.height);
  });

  it('gives the same boxes as detect() on the full-size image', async () => {
    const width = 832;
    const height = 624;
    const full = { data: new Uint8Array(width * height * 3).fill(50), width, height, channels: 3 as const };
    const resized = {
      data: new Uint8Array(416 * 312 * 3).fill(50),
      width: 416,
      height: 312,
      channels: 3 as const,
    };
    const a = await detect(oneBus, full, LABELS);
    const b = await detectResized(oneBus, resized, { width, height }, LABELS);
    expect(b.detections).toEqual(a.detections);
    expect(b.detections).toEqual([{ label: 'bus', score: 0.855, box: [224, 128, 352, 320] }]);
  });

  it('builds exactly the tensor letterboxToTensor builds when no resampling is needed (BGR, pad 114)', async () => {
    const w = 416;
    const h = 200;
    const data = new Uint8Array(w * h * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
    const pixels = { data, width: w, height: h, channels: 4 as const };
    let seen: Float32Array | null = null;
    await detectResized(
      async (input) => {
        seen = input;
        return new Float32Array(NUM_ANCHORS * ROW_SIZE);
      },
      pixels,
      { width: 832, height: 400 },
      LABELS,
    );
    const expected = letterboxToTensor(pixels).tensor;
    expect(seen).not.toBeNull();
    // Bitwise comparison: element-wise toEqual on 519,168 floats took up to 15 s on a loaded machine.
    const got = seen! as Float32Array;
    expect(got.length).toBe(expected.length);
    const mismatch = got.findIndex((v, i) => !Object.is(v, expected[i]));
    expect(mismatch, `first differing element: ${mismatch}`).toBe(-1);
  });

  it('rejects pixels that are not the letterbox size of the original', async () => {
    const resized = { data: new Uint8Array(416 * 416 * 3), width: 416, height: 416, channels: 3 as const };
    await expect(detectResized(oneBus, resized, { width: 810, height: 1080 }, LABELS)).rejects.toThrow(
      RangeError,
    );
  });
});
