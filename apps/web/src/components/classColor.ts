/** A stable, distinct colour per class label (golden-angle hues over a string hash). */
export function classColor(label: string): string {
  let hash = 0;
  for (let i = 0; i < label.length; i++) hash = (Math.imul(hash, 31) + label.charCodeAt(i)) | 0;
  const hue = (Math.abs(hash) * 137.508) % 360;
  return `hsl(${hue.toFixed(0)} 85% 45%)`;
}
