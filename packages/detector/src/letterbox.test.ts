import { describe, expect, it } from 'vitest';
import { INPUT_SIZE, PAD_VALUE } from './constants';
import { letterboxGeometry, letterboxToTensor, type Pixels } from './letterbox';

const PLANE = INPUT_SIZE * INPUT_SIZE;

function solid(width: number, height: number, rgb: [number, number, number], channels: 3 | 4 = 3): Pixels {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    data.set(channels === 4 ? [...rgb, 255] : rgb, i * channels);
  }
  return { data, width, height, channels };
}

/** Value of channel `c` (0 = B, 1 = G, 2 = R) at model-input pixel (x, y). */
const at = (tensor: Float32Array, c: number, x: number, y: number) => tensor[c * PLANE + y * INPUT_SIZE + x];

describe('letterboxGeometry', () => {
  it('fits a portrait photo by its height (810x1080 -> 312x416: Python int(810 * r) is 312)', () => {
    const g = letterboxGeometry(810, 1080);
    expect(g.scale).toBeCloseTo(416 / 1080, 12);
    expect(g).toMatchObject({ width: 312, height: 416 });
  });

  it('fits a landscape photo by its width', () => {
    const g = letterboxGeometry(1441, 731);
    expect(g.scale).toBeCloseTo(416 / 1441, 12);
    expect(g).toMatchObject({ width: 416, height: 211 });
  });

  it('keeps a square image square and upsamples small ones', () => {
    expect(letterboxGeometry(416, 416)).toEqual({ scale: 1, width: 416, height: 416 });
    expect(letterboxGeometry(1, 1)).toEqual({ scale: 416, width: 416, height: 416 });
    expect(letterboxGeometry(100, 200)).toEqual({ scale: 2.08, width: 208, height: 416 });
  });

  it('floors like int(): 1000x800 -> r = 0.416 -> 416x332 (332.8 floored)', () => {
    expect(letterboxGeometry(1000, 800)).toMatchObject({ width: 416, height: 332 });
  });

  it('never produces an empty side for very thin images', () => {
    const g = letterboxGeometry(2, 1000);
    expect(g.width).toBe(1);
    expect(g.height).toBe(416);
  });

  it.each([
    [0, 10],
    [10, 0],
    [-5, 10],
    [Number.NaN, 10],
    [10, Number.NaN],
  ])('rejects %s x %s', (w, h) => {
    expect(() => letterboxGeometry(w, h)).toThrow(RangeError);
  });
});

describe('letterboxToTensor', () => {
  it('returns a planar 3x416x416 tensor with its geometry', () => {
    const { tensor, geometry } = letterboxToTensor(solid(810, 1080, [1, 2, 3]));
    expect(tensor).toBeInstanceOf(Float32Array);
    expect(tensor.length).toBe(3 * PLANE);
    expect(geometry).toMatchObject({ width: 312, height: 416 });
  });

  it('pads exactly 114 outside the placed region, in every channel', () => {
    const { tensor, geometry } = letterboxToTensor(solid(100, 200, [0, 0, 0]));
    expect(geometry).toMatchObject({ width: 208, height: 416 });
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < INPUT_SIZE; y++) {
        for (let x = 0; x < INPUT_SIZE; x++) {
          const expected = x < geometry.width ? 0 : PAD_VALUE;
          if (at(tensor, c, x, y) !== expected) {
            throw new Error(`channel ${c} at (${x}, ${y}) is ${at(tensor, c, x, y)}, expected ${expected}`);
          }
        }
      }
    }
  });

  it('pads below a landscape image (placed at the top-left corner)', () => {
    const { tensor, geometry } = letterboxToTensor(solid(400, 100, [9, 9, 9]));
    expect(geometry).toMatchObject({ width: 416, height: 104 });
    expect(at(tensor, 0, 0, 0)).toBe(9);
    expect(at(tensor, 1, 415, 103)).toBe(9);
    expect(at(tensor, 2, 0, 104)).toBe(PAD_VALUE);
    expect(at(tensor, 0, 415, 415)).toBe(PAD_VALUE);
  });

  it.each([3, 4] as const)('writes BGR: pure red RGB (%i channels) lands in channel 2 only', (channels) => {
    const { tensor, geometry } = letterboxToTensor(solid(300, 150, [255, 0, 0], channels));
    for (const [x, y] of [
      [0, 0],
      [geometry.width - 1, geometry.height - 1],
      [100, 50],
    ] as const) {
      expect(at(tensor, 0, x, y)).toBe(0);
      expect(at(tensor, 1, x, y)).toBe(0);
      expect(at(tensor, 2, x, y)).toBe(255);
    }
    // The padding is not coloured.
    expect(at(tensor, 2, 0, geometry.height)).toBe(PAD_VALUE);
  });

  it('reproduces a 416x416 image exactly (identity resize)', () => {
    const width = INPUT_SIZE;
    const data = new Uint8Array(width * width * 3);
    let seed = 12345;
    for (let i = 0; i < data.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[i] = seed >>> 24;
    }
    const { tensor } = letterboxToTensor({ data, width, height: width, channels: 3 });
    for (let p = 0; p < PLANE; p++) {
      for (let ch = 0; ch < 3; ch++) {
        if (tensor[(2 - ch) * PLANE + p] !== data[p * 3 + ch]) {
          throw new Error(`pixel ${p} channel ${ch}: ${tensor[(2 - ch) * PLANE + p]} != ${data[p * 3 + ch]}`);
        }
      }
    }
  });

  it('samples like OpenCV INTER_LINEAR: a 2x downscale averages each pixel pair', () => {
    // 832x832, columns alternate 0 and 200: every output pixel is the mean, 100.
    const width = 832;
    const data = new Uint8Array(width * width * 3);
    for (let y = 0; y < width; y++) {
      for (let x = 0; x < width; x++)
        data.fill(x % 2 === 0 ? 0 : 200, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
    const { tensor, geometry } = letterboxToTensor({ data, width, height: width, channels: 3 });
    expect(geometry).toEqual({ scale: 0.5, width: 416, height: 416 });
    for (const [x, y] of [
      [0, 0],
      [207, 11],
      [415, 415],
    ] as const) {
      for (let c = 0; c < 3; c++) expect(at(tensor, c, x, y)).toBeCloseTo(100, 4);
    }
  });

  it('rounds back to 8 bits like cv2.resize on uint8 (issue 18 fidelity)', () => {
    // 832x832, columns alternate 0 and 201: the exact bilinear mean is 100.5; OpenCV's fixed-point
    // cast rounds it half up to 101. A random image's every sample must be a whole number 0..255.
    const width = 832;
    const data = new Uint8Array(width * width * 3);
    for (let y = 0; y < width; y++) {
      for (let x = 0; x < width; x++)
        data.fill(x % 2 === 0 ? 0 : 201, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
    const { tensor } = letterboxToTensor({ data, width, height: width, channels: 3 });
    for (let c = 0; c < 3; c++) expect(at(tensor, c, 100, 100)).toBe(101);

    let seed = 7;
    const noisy = new Uint8Array(333 * 517 * 4);
    for (let i = 0; i < noisy.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      noisy[i] = seed >>> 24;
    }
    const out = letterboxToTensor({ data: noisy, width: 333, height: 517, channels: 4 }).tensor;
    for (let i = 0; i < out.length; i++) {
      const v = out[i]!;
      if (!Number.isInteger(v) || v < 0 || v > 255)
        throw new Error(`sample ${i} is ${v}, not an 8-bit value`);
    }
  });

  it('rejects a pixel buffer shorter than width x height x channels', () => {
    expect(() => letterboxToTensor({ data: new Uint8Array(10), width: 4, height: 4, channels: 3 })).toThrow(
      RangeError,
    );
  });
});
