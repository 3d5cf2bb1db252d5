import { describe, expect, it } from 'vitest';
import { placeLabels, type Rect } from './labelPlacement';

const overlap = (a: Rect, b: Rect) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

describe('placeLabels', () => {
  const canvas = { width: 400, height: 300 };
  const size = { w: 60, h: 16 };

  it('puts a lone label above its box', () => {
    expect(placeLabels([{ x: 50, y: 100, w: 80, h: 80 }], [size], canvas)).toEqual([
      { x: 50, y: 84, w: 60, h: 16 },
    ]);
  });

  it('keeps labels of boxes sharing a corner apart (a crowd of people)', () => {
    const boxes = Array.from({ length: 6 }, (_, i) => ({ x: 100 + i * 4, y: 100 + i * 2, w: 50, h: 120 }));
    const labels = placeLabels(
      boxes,
      boxes.map(() => size),
      canvas,
    );
    for (let i = 0; i < labels.length; i++)
      for (let j = i + 1; j < labels.length; j++) expect(overlap(labels[i]!, labels[j]!)).toBe(false);
  });

  it('keeps labels inside the canvas, even for a box at the top edge', () => {
    const [label] = placeLabels([{ x: 380, y: 0, w: 20, h: 20 }], [size], canvas);
    expect(label!.x + label!.w).toBeLessThanOrEqual(canvas.width);
    expect(label!.y).toBeGreaterThanOrEqual(0);
  });

  it('falls back to the first spot when everything is taken', () => {
    const tiny = { width: 60, height: 16 };
    const labels = placeLabels(
      [
        { x: 0, y: 0, w: 60, h: 16 },
        { x: 0, y: 0, w: 60, h: 16 },
      ],
      [size, size],
      tiny,
    );
    expect(labels[1]).toEqual({ x: 0, y: 0, w: 60, h: 16 });
  });
});
