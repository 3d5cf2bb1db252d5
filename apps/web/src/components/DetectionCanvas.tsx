import type { Detection } from '@tabgrid/protocol';
import { useEffect, useRef, useState } from 'react';
import { formatScore } from '../lib/format';
import { classColor } from './classColor';
import { placeLabels } from './labelPlacement';

export interface DetectionCanvasProps {
  /** Image URL (same origin) or a decoded bitmap. */
  source: string | ImageBitmap | null;
  detections: readonly Detection[];
  /** Boxes below this score are not drawn. @defaultValue 0.5 */
  minScore?: number;
  /** Fit inside this box (CSS px). @defaultValue 480 x 360 */
  maxWidth?: number;
  maxHeight?: number;
  /** Size the boxes refer to; defaults to the image's natural size. */
  imageWidth?: number;
  imageHeight?: number;
  className?: string;
  /**
   * Text alternative for screen readers (the canvas gets `role="img"`), e.g. the list of
   * detections. Without it the canvas is left to the surrounding text.
   */
  alt?: string;
  'data-testid'?: string;
}

type Drawable = { image: CanvasImageSource; width: number; height: number };

function useDrawable(source: string | ImageBitmap | null): { drawable: Drawable | null; failed: boolean } {
  const [state, setState] = useState<{ drawable: Drawable | null; failed: boolean }>({
    drawable: null,
    failed: false,
  });
  useEffect(() => {
    if (!source) {
      setState({ drawable: null, failed: false });
      return;
    }
    if (typeof source !== 'string') {
      setState({ drawable: { image: source, width: source.width, height: source.height }, failed: false });
      return;
    }
    let live = true;
    const img = new Image();
    img.decoding = 'async';
    img.onload = () =>
      live &&
      setState({
        drawable: { image: img, width: img.naturalWidth, height: img.naturalHeight },
        failed: false,
      });
    img.onerror = () => live && setState({ drawable: null, failed: true });
    img.src = source;
    return () => {
      live = false;
    };
  }, [source]);
  return state;
}

/** Draws an image scaled to fit, with one box + "label score" tag per detection. */
export function DetectionCanvas(props: DetectionCanvasProps) {
  const { source, detections, minScore = 0.5, maxWidth = 480, maxHeight = 360 } = props;
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const { drawable, failed } = useDrawable(source);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    const srcW = drawable?.width ?? props.imageWidth ?? 4;
    const srcH = drawable?.height ?? props.imageHeight ?? 3;
    const scale = Math.min(maxWidth / srcW, maxHeight / srcH, 1);
    const cssW = Math.max(1, Math.round(srcW * scale));
    const cssH = Math.max(1, Math.round(srcH * scale));
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#e5e7eb';
    ctx.fillRect(0, 0, cssW, cssH);
    if (!drawable) return;
    ctx.drawImage(drawable.image, 0, 0, cssW, cssH);

    // Boxes are in pixels of the image the detector saw.
    const boxScaleX = cssW / (props.imageWidth ?? drawable.width);
    const boxScaleY = cssH / (props.imageHeight ?? drawable.height);
    ctx.font = '600 12px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    // Highest score first: the most likely objects get the best label spots.
    const shown = detections.filter((d) => d.score >= minScore).sort((a, b) => b.score - a.score);
    const boxes = shown.map((d) => {
      const [x1, y1, x2, y2] = d.box;
      return { x: x1 * boxScaleX, y: y1 * boxScaleY, w: (x2 - x1) * boxScaleX, h: (y2 - y1) * boxScaleY };
    });
    const texts = shown.map((d) => `${d.label} ${formatScore(d.score)}`);
    const labels = placeLabels(
      boxes,
      texts.map((t) => ({ w: ctx.measureText(t).width + 6, h: 16 })),
      { width: cssW, height: cssH },
    );
    ctx.lineWidth = 2;
    for (const [i, d] of shown.entries()) {
      const b = boxes[i]!;
      ctx.strokeStyle = classColor(d.label);
      ctx.strokeRect(b.x, b.y, b.w, b.h);
    }
    // Labels after every box, so that no box line crosses a label.
    for (const [i, d] of shown.entries()) {
      const l = labels[i]!;
      ctx.fillStyle = classColor(d.label);
      ctx.fillRect(l.x, l.y, l.w, l.h);
      ctx.fillStyle = '#fff';
      ctx.fillText(texts[i]!, l.x + 3, l.y + 2);
    }
    canvas.dataset.boxes = String(shown.length);
  }, [drawable, detections, minScore, maxWidth, maxHeight, props.imageWidth, props.imageHeight]);

  return (
    <div className={`detection-canvas ${props.className ?? ''}`}>
      <canvas
        ref={canvasRef}
        data-testid={props['data-testid']}
        {...(props.alt ? { role: 'img', 'aria-label': props.alt } : {})}
      />
      {failed && <div className="detection-canvas__error">image unavailable</div>}
    </div>
  );
}
