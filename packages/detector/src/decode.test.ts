import { describe, expect, it } from 'vitest';
import { NUM_ANCHORS, ROW_SIZE } from './constants';
import { decodeYolox } from './decode';

interface Hot {
  stride: 8 | 16 | 32;
  gx: number;
  gy: number;
  tx: number;
  ty: number;
  /** Box size in model-input pixels. */
  w: number;
  h: number;
  objectness: number;
  classScores: Record<number, number>;
}

/** Row index of grid cell (gx, gy) at `stride` for a 416 input. */
function rowOf(stride: number, gx: number, gy: number): number {
  let offset = 0;
  for (const s of [8, 16, 32]) {
    const cells = 416 / s;
    if (s === stride) return offset + gy * cells + gx;
    offset += cells * cells;
  }
  throw new Error(`bad stride ${stride}`);
}

function output(...hot: Hot[]): Float32Array {
  const out = new Float32Array(NUM_ANCHORS * ROW_SIZE);
  for (const r of hot) {
    const base = rowOf(r.stride, r.gx, r.gy) * ROW_SIZE;
    out[base] = r.tx;
    out[base + 1] = r.ty;
    out[base + 2] = Math.log(r.w / r.stride);
    out[base + 3] = Math.log(r.h / r.stride);
    out[base + 4] = r.objectness;
    for (const [c, s] of Object.entries(r.classScores)) out[base + 5 + Number(c)] = s;
  }
  return out;
}

// Stride 16, cell (5, 7): centre ((0.5 + 5) * 16, (0.25 + 7) * 16) = (88, 116); 64x32 -> [56, 100, 120, 132].
const busLike: Hot = {
  stride: 16,
  gx: 5,
  gy: 7,
  tx: 0.5,
  ty: 0.25,
  w: 64,
  h: 32,
  objectness: 0.9,
  classScores: { 3: 0.8, 0: 0.5 },
};
const big = { scale: 0.5, imageWidth: 1000, imageHeight: 1000 };

describe('decodeYolox', () => {
  it('decodes one hot row into a box in original-image pixels', () => {
    const [d, ...rest] = decodeYolox(output(busLike), big);
    expect(rest).toHaveLength(0);
    expect(d!.classId).toBe(3);
    expect(d!.score).toBeCloseTo(0.9 * 0.8, 6);
    // Input-space box divided by the letterbox scale 0.5.
    const expected = [112, 200, 240, 264];
    d!.box.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 3));
  });

  it('finds rows in every stride block, including the last row', () => {
    const last: Hot = {
      ...busLike,
      stride: 32,
      gx: 12,
      gy: 12,
      tx: 0,
      ty: 0,
      w: 32,
      h: 32,
      classScores: { 79: 1 },
    };
    const first: Hot = {
      ...busLike,
      stride: 8,
      gx: 3,
      gy: 2,
      tx: 0,
      ty: 0,
      w: 8,
      h: 8,
      classScores: { 1: 1 },
    };
    const found = decodeYolox(output(last, first), { scale: 1, imageWidth: 416, imageHeight: 416 });
    const byClass = new Map(found.map((d) => [d.classId, d.box]));
    // (12 * 32 = 384 centre, 32 wide) and (3 * 8 = 24, 2 * 8 = 16 centre, 8 wide).
    byClass.get(79)!.forEach((v, i) => expect(v).toBeCloseTo([368, 368, 400, 400][i]!, 3));
    byClass.get(1)!.forEach((v, i) => expect(v).toBeCloseTo([20, 12, 28, 20][i]!, 3));
  });

  it('clips boxes to the image bounds', () => {
    // Centre (0, 0) at stride 8: the box starts at negative coordinates.
    const corner: Hot = {
      ...busLike,
      stride: 8,
      gx: 0,
      gy: 0,
      tx: 0,
      ty: 0,
      w: 40,
      h: 40,
      classScores: { 2: 1 },
    };
    const [d] = decodeYolox(output(corner), { scale: 1, imageWidth: 416, imageHeight: 416 });
    d!.box.forEach((v, i) => expect(v).toBeCloseTo([0, 0, 20, 20][i]!, 3));

    // Right/bottom: the original image is smaller than the decoded box's far corner.
    const [e] = decodeYolox(output(busLike), { scale: 0.5, imageWidth: 230, imageHeight: 250 });
    e!.box.forEach((v, i) => expect(v).toBeCloseTo([112, 200, 230, 250][i]!, 3));
  });

  it('drops boxes that lie entirely outside the image after clipping', () => {
    expect(decodeYolox(output(busLike), { scale: 0.5, imageWidth: 100, imageHeight: 1000 })).toEqual([]);
  });

  it('thresholds on objectness x class score, not on either alone', () => {
    const weak: Hot = { ...busLike, objectness: 0.9, classScores: { 3: 0.2 } }; // 0.18
    expect(decodeYolox(output(weak), big)).toEqual([]);
    const kept = decodeYolox(output(weak), { ...big, scoreThreshold: 0.1 });
    expect(kept).toHaveLength(1);
    expect(kept[0]!.score).toBeCloseTo(0.18, 6);

    const lowObjectness: Hot = { ...busLike, objectness: 0.2, classScores: { 3: 1 } };
    expect(decodeYolox(output(lowObjectness), big)).toEqual([]);
  });

  it('keeps a score exactly at the threshold', () => {
    const exact: Hot = { ...busLike, objectness: 0.5, classScores: { 3: 0.5 } };
    expect(decodeYolox(output(exact), big)).toHaveLength(1);
  });

  it('returns nothing for an all-zero output', () => {
    expect(decodeYolox(new Float32Array(NUM_ANCHORS * ROW_SIZE), big)).toEqual([]);
  });

  it('suppresses duplicate boxes of one class from neighbouring cells', () => {
    const neighbour: Hot = { ...busLike, gx: 6, tx: -0.5, objectness: 0.8 }; // same centre, lower score
    const found = decodeYolox(output(busLike, neighbour), big);
    expect(found).toHaveLength(1);
    expect(found[0]!.score).toBeCloseTo(0.72, 6);
  });

  it('rejects an output of the wrong length', () => {
    expect(() => decodeYolox(new Float32Array(NUM_ANCHORS * ROW_SIZE - 1), big)).toThrow(RangeError);
  });
});
