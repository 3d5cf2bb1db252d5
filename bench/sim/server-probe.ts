/**
 * Preloaded into the benchmark's server process (`node --expose-gc --import tsx
 * --import bench/sim/server-probe.ts apps/server/src/main.ts`): answers
 * `{ type: 'memory' }` over IPC with `process.memoryUsage()` taken right after a
 * full GC, so memory-per-connection deltas are not GC noise. No effect on the server otherwise.
 */
process.on('message', (msg: unknown) => {
  if ((msg as { type?: string } | null)?.type !== 'memory') return;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  process.send?.({ type: 'memory', rss: m.rss, heapUsed: m.heapUsed, external: m.external, gc: !!gc });
});
// The IPC channel must not keep the server alive on its own.
process.channel?.unref();
