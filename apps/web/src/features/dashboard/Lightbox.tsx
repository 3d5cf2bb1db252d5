import type { Detection } from '@tabgrid/protocol';
import { useEffect, useRef, useState } from 'react';
import { DetectionCanvas } from '../../components/DetectionCanvas';
import { DetectionList } from '../../components/DetectionList';

interface Props {
  name: string;
  image: string | null;
  detections: readonly Detection[];
  alt: string;
  onClose: () => void;
}

const ZOOMS = [1, 1.5, 2, 3, 4];

/**
 * One photo, large, with its boxes: a modal `<dialog>` (focus stays inside, Escape closes,
 * focus returns to the tile), zoom up to the photo's full size, scrolled when larger.
 */
export function Lightbox({ name, image, detections, alt, onClose }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const [zoom, setZoom] = useState(0);
  useEffect(() => {
    const dialog = ref.current;
    dialog?.showModal();
    return () => dialog?.close();
  }, []);
  const fitW = Math.min(window.innerWidth - 48, 1200);
  const fitH = Math.max(200, window.innerHeight - 200);
  const z = ZOOMS[zoom]!;
  return (
    <dialog
      ref={ref}
      className="lightbox"
      aria-label={`Photo ${name}`}
      onClose={onClose}
      data-testid="lightbox"
    >
      <div className="lightbox__bar">
        <strong className="lightbox__title">{name}</strong>
        <div className="lightbox__zoom" role="group" aria-label="Zoom">
          <button type="button" onClick={() => setZoom((i) => Math.max(0, i - 1))} disabled={zoom === 0}>
            −<span className="visually-hidden"> zoom out</span>
          </button>
          <span aria-live="polite">{Math.round(z * 100)} %</span>
          <button
            type="button"
            onClick={() => setZoom((i) => Math.min(ZOOMS.length - 1, i + 1))}
            disabled={zoom === ZOOMS.length - 1}
          >
            +<span className="visually-hidden"> zoom in</span>
          </button>
        </div>
        <button type="button" onClick={() => ref.current?.close()} data-testid="lightbox-close" autoFocus>
          Close
        </button>
      </div>
      <div className="lightbox__view">
        <DetectionCanvas
          source={image}
          detections={detections}
          minScore={0}
          maxWidth={fitW * z}
          maxHeight={fitH * z}
          alt={alt}
          data-testid="lightbox-canvas"
        />
      </div>
      <DetectionList detections={detections} />
    </dialog>
  );
}
