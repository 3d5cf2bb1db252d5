/** An axis-aligned rectangle in canvas pixels. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

const overlaps = (a: Rect, b: Rect) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(v, Math.max(lo, hi)));

/**
 * Greedy label placement: each label (in the order given, most important first) takes the
 * first of its candidate spots (above the box's top-left corner, inside it, below it, then the
 * same on the right edge, then stepped further up or down) that stays inside the canvas and
 * overlaps no label placed before it. When every spot is taken it falls back to the first one.
 *
 * @param boxes the boxes the labels belong to
 * @param sizes each label's width and height
 */
export function placeLabels(
  boxes: readonly Rect[],
  sizes: readonly { w: number; h: number }[],
  canvas: { width: number; height: number },
): Rect[] {
  const placed: Rect[] = [];
  return boxes.map((box, i) => {
    const { w, h } = sizes[i]!;
    const left = box.x;
    const right = box.x + box.w - w;
    const candidates: [number, number][] = [];
    for (const x of [left, right]) {
      candidates.push([x, box.y - h], [x, box.y], [x, box.y + box.h], [x, box.y + box.h - h]);
    }
    for (let step = 1; step <= 6; step++) {
      candidates.push([left, box.y - h * (step + 1)], [left, box.y + h * step]);
    }
    const spots = candidates.map(([x, y]) => ({
      x: clamp(x, 0, canvas.width - w),
      y: clamp(y, 0, canvas.height - h),
      w,
      h,
    }));
    const spot = spots.find((s) => !placed.some((p) => overlaps(s, p))) ?? spots[0]!;
    placed.push(spot);
    return spot;
  });
}
