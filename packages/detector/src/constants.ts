/** Facts about YOLOX-Nano as exported (see ../shared/models/README.md). */
export const INPUT_SIZE = 416;
/** Letterbox fill value for the padded area. */
export const PAD_VALUE = 114;
/** Output strides, in the order the output rows are laid out. */
export const STRIDES = [8, 16, 32] as const;
export const NUM_CLASSES = 80;
/** Values per output row: tx, ty, tw, th, objectness, 80 class scores. */
export const ROW_SIZE = 5 + NUM_CLASSES;
/** 52*52 + 26*26 + 13*13. */
export const NUM_ANCHORS = STRIDES.reduce((n, s) => n + (INPUT_SIZE / s) ** 2, 0);
export const INPUT_NAME = 'images';
export const OUTPUT_NAME = 'output';
/** Upstream's NMS IoU threshold. */
export const DEFAULT_IOU_THRESHOLD = 0.45;
/**
 * Detections below this score are dropped before NMS. Lower than the 0.5 that
 * the UI highlights, so that a detection near 0.5 natively is still found when
 * another decoder shifts its score a little.
 */
export const DEFAULT_SCORE_THRESHOLD = 0.25;
/**
 * Volunteers (tab, agent) and the referee report detections down to this score, below the
 * DEFAULT_SCORE_THRESHOLD the product shows and exports: verification's hysteresis (PROTOCOL.md
 * rule V2). A shown detection (>= 0.25) on one side must be matched on the other by a detection
 * of at least this score, so a detection near 0.25 that another runtime scores a little lower
 * still finds its partner. Published results keep only detections >= DEFAULT_SCORE_THRESHOLD.
 */
export const REPORTED_SCORE_FLOOR = 0.15;
