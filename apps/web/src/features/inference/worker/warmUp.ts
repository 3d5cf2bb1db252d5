/**
 * One throwaway inference on a small synthetic JPEG right after the session is
 * created. Chromium sets up a worker's image decoding lazily on the first
 * `createImageBitmap`, and that first call waits for the page's main thread:
 * measured with a busy page (e2e/socket-worker.spec.ts), a pool worker's first
 * task took as long as the page stayed blocked, later tasks ~0.5 s. Warming
 * every worker up while the page is idle keeps tasks off the main thread.
 */
export async function warmUpImage(): Promise<{ bytes: ArrayBuffer; width: number; height: number }> {
  const width = 64;
  const height = 48;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (ctx) {
    ctx.fillStyle = '#7a9';
    ctx.fillRect(0, 0, width, height);
  }
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  return { bytes: await blob.arrayBuffer(), width, height };
}
