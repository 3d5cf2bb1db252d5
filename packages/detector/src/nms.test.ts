import { describe, expect, it } from 'vitest';
import { iou, nmsPerClass, type Box, type Scored } from './nms';

describe('iou', () => {
  it('is 1 for identical boxes and 0 for disjoint or touching ones', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
  });

  it('computes intersection over union', () => {
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150, 12);
    expect(iou([0, 0, 10, 10], [5, 5, 15, 15])).toBeCloseTo(25 / 175, 12);
    expect(iou([0, 0, 10, 10], [2, 2, 8, 8])).toBeCloseTo(36 / 100, 12);
  });

  it('is symmetric', () => {
    const a: Box = [1, 2, 30, 40];
    const b: Box = [10, 5, 50, 25];
    expect(iou(a, b)).toBe(iou(b, a));
  });

  it('is 0 when a box has no area', () => {
    expect(iou([5, 5, 5, 5], [0, 0, 10, 10])).toBe(0);
    expect(iou([0, 0, 10, 0], [0, 0, 10, 10])).toBe(0);
  });
});

const item = (classId: number, score: number, box: Box): Scored => ({ classId, score, box });

describe('nmsPerClass', () => {
  it('keeps the best of overlapping boxes of one class', () => {
    const kept = nmsPerClass([item(0, 0.6, [1, 0, 11, 10]), item(0, 0.9, [0, 0, 10, 10])], 0.45);
    expect(kept).toEqual([item(0, 0.9, [0, 0, 10, 10])]);
  });

  it('keeps overlapping boxes of different classes', () => {
    const kept = nmsPerClass([item(0, 0.9, [0, 0, 10, 10]), item(1, 0.8, [0, 0, 10, 10])], 0.45);
    expect(kept.map((k) => k.classId)).toEqual([0, 1]);
  });

  it('keeps boxes of one class that overlap at most the threshold', () => {
    // IoU 1/3 with the first box.
    const items = [item(0, 0.9, [0, 0, 10, 10]), item(0, 0.8, [5, 0, 15, 10])];
    expect(nmsPerClass(items, 0.45)).toHaveLength(2);
    expect(nmsPerClass(items, 0.3)).toHaveLength(1);
    expect(nmsPerClass(items, 1 / 3)).toHaveLength(2); // suppression needs IoU > threshold
  });

  it('compares against kept boxes only (a suppressed box suppresses nothing)', () => {
    // B overlaps A heavily and C overlaps B heavily, but C barely overlaps A.
    const a = item(0, 0.9, [0, 0, 10, 10]);
    const b = item(0, 0.8, [3, 0, 13, 10]);
    const c = item(0, 0.7, [6, 0, 16, 10]);
    expect(nmsPerClass([c, b, a], 0.45)).toEqual([a, c]);
  });

  it('returns the kept items sorted by score and does not mutate its input', () => {
    const items = [
      item(2, 0.3, [50, 50, 60, 60]),
      item(1, 0.7, [0, 0, 5, 5]),
      item(0, 0.5, [20, 20, 30, 30]),
    ];
    const copy = structuredClone(items);
    expect(nmsPerClass(items, 0.45).map((k) => k.score)).toEqual([0.7, 0.5, 0.3]);
    expect(items).toEqual(copy);
  });

  it('handles an empty list', () => {
    expect(nmsPerClass([], 0.45)).toEqual([]);
  });
});
