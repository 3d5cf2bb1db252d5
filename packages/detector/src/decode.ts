import {
  DEFAULT_IOU_THRESHOLD,
  DEFAULT_SCORE_THRESHOLD,
  INPUT_SIZE,
  NUM_ANCHORS,
  NUM_CLASSES,
  ROW_SIZE,
  STRIDES,
} from './constants';
import { nmsPerClass, type Box, type Scored } from './nms';

export interface DecodeOptions {
  /** Letterbox scale r used for this image (see letterboxGeometry). */
  scale: number;
  /** Original image size, to clip boxes to. */
  imageWidth: number;
  imageHeight: number;
  /** @defaultValue DEFAULT_SCORE_THRESHOLD (0.25) */
  scoreThreshold?: number;
  /** @defaultValue 0.45, as upstream */
  iouThreshold?: number;
  inputSize?: number;
}

const clip = (v: number, max: number) => (v < 0 ? 0 : v > max ? max : v);

/**
 * Decodes the raw YOLOX output `[1, 3549, 85]` into boxes in original-image
 * pixels: grid offsets per stride, `exp` sizes, score = objectness x best class
 * score, divide by r, clip to the image, per-class NMS.
 */
export function decodeYolox(output: Float32Array, options: DecodeOptions): Scored[] {
  const size = options.inputSize ?? INPUT_SIZE;
  const threshold = options.scoreThreshold ?? DEFAULT_SCORE_THRESHOLD;
  const anchors = STRIDES.reduce((n, s) => n + (size / s) ** 2, 0);
  if (output.length !== anchors * ROW_SIZE) {
    throw new RangeError(`model output has ${output.length} values, expected ${anchors * ROW_SIZE}`);
  }
  const { scale, imageWidth: W, imageHeight: H } = options;
  const candidates: Scored[] = [];
  let row = 0;
  for (const stride of STRIDES) {
    const cells = size / stride;
    for (let gy = 0; gy < cells; gy++) {
      for (let gx = 0; gx < cells; gx++, row++) {
        const base = row * ROW_SIZE;
        const objectness = output[base + 4]!;
        if (objectness < threshold) continue; // class scores are <= 1
        let best = 0;
        let classId = 0;
        for (let c = 0; c < NUM_CLASSES; c++) {
          const s = output[base + 5 + c]!;
          if (s > best) {
            best = s;
            classId = c;
          }
        }
        const score = objectness * best;
        if (!(score >= threshold)) continue;
        const cx = (output[base]! + gx) * stride;
        const cy = (output[base + 1]! + gy) * stride;
        const w = Math.exp(output[base + 2]!) * stride;
        const h = Math.exp(output[base + 3]!) * stride;
        const box: Box = [
          clip((cx - w / 2) / scale, W),
          clip((cy - h / 2) / scale, H),
          clip((cx + w / 2) / scale, W),
          clip((cy + h / 2) / scale, H),
        ];
        if (box[2] > box[0] && box[3] > box[1]) candidates.push({ classId, score, box });
      }
    }
  }
  return nmsPerClass(candidates, options.iouThreshold ?? DEFAULT_IOU_THRESHOLD);
}

export { NUM_ANCHORS };
