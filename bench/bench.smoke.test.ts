/**
 * Smoke test of the benchmark harness: the Node inference and scheduler-capacity
 * sections in quick mode produce a results object with every field. Never
 * asserts a timing (the machine is shared; figures belong in bench/results.json).
 */
import { describe, expect, it } from 'vitest';
import { runBench } from './lib/bench';

const summaryShape = {
  n: expect.any(Number),
  p50: expect.any(Number),
  p95: expect.any(Number),
  p99: expect.any(Number),
  mean: expect.any(Number),
  min: expect.any(Number),
  max: expect.any(Number),
};

describe('npm run bench -- --quick (smoke)', () => {
  it('runs the Node inference and scheduler-capacity sections and reports every field', async () => {
    const results = await runBench({
      quick: true,
      sections: ['node-inference', 'capacity'],
      port: Number(process.env.TABGRID_BENCH_SMOKE_PORT ?? 8911),
      out: null,
      log: () => undefined,
    });

    expect(results.meta).toMatchObject({
      quick: true,
      machine: { cores: expect.any(Number), ulimitN: expect.any(String) },
      versions: {
        node: process.version,
        onnxruntimeWeb: expect.any(String),
        onnxruntimeNode: expect.any(String),
        chromium: expect.any(String),
      },
    });
    expect(results.inference?.configs.map((c) => c.runtime)).toEqual([
      'native',
      'native',
      'node-wasm',
      'node-wasm',
    ]);
    for (const c of results.inference!.configs) {
      expect(c).toMatchObject({
        runs: 5,
        loadMs: expect.any(Number),
        totalMs: summaryShape,
        runMs: summaryShape,
      });
      expect(c.totalMs.n).toBe(5);
    }
    expect(results.inference!.bestNative).not.toBeNull();

    expect(results.schedulerCapacity).toHaveLength(2);
    for (const c of results.schedulerCapacity!) {
      expect(c).toMatchObject({
        connected: c.volunteers,
        connectFailed: 0,
        completed: expect.any(Boolean),
        tasksDone: expect.any(Number),
        tasksPerSecond: expect.any(Number),
        steadyTasksPerSecond: expect.any(Number),
        dispatchOverheadMs: { p50: expect.any(Number), p99: expect.any(Number), count: expect.any(Number) },
        ackMs: { p50: expect.any(Number), p99: expect.any(Number) },
        eventLoopLagMs: { p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) },
        requeued: expect.any(Number),
        memory: {
          before: { rss: expect.any(Number), heapUsed: expect.any(Number), gc: true },
          after: { rss: expect.any(Number), heapUsed: expect.any(Number), gc: true },
          rssPerVolunteerKB: expect.any(Number),
          heapPerVolunteerKB: expect.any(Number),
        },
      });
    }
    // Seven goals of the single-process bench and two of the scale section (issue #10), each
    // listed whether or not its section ran (unmeasured: null).
    expect(results.goals.map((g) => g.goal)).toHaveLength(9);
  }, 180_000);
});
