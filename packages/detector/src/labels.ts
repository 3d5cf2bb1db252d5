import { NUM_CLASSES } from './constants';

/** Parses `coco-labels.txt`: one class name per line, in class-index order. */
export function parseLabels(text: string): string[] {
  const labels = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (labels.length !== NUM_CLASSES) {
    throw new Error(`labels file has ${labels.length} names, expected ${NUM_CLASSES}`);
  }
  return labels;
}
