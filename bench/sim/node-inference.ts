/**
 * One Node inference configuration, in its own process (onnxruntime fixes its
 * thread count at the first session): decode (sharp) + letterbox + model + NMS on
 * one photo, `warmup` unrecorded runs then `runs` recorded ones. Prints one JSON line.
 *
 * Usage: tsx bench/sim/node-inference.ts <native|web> <threads|0> <runs> <warmup> <image>
 */
import { readFileSync } from 'node:fs';
import {
  detect,
  INPUT_NAME,
  INPUT_SIZE,
  OUTPUT_NAME,
  parseLabels,
  type ModelRunner,
} from '@tabgrid/detector';
import { createOrtRunner, decodeImage } from '@tabgrid/node-runner';
import { labelsPath, modelPath } from '../../scripts/assets';

const [runtime, threadsArg, runsArg, warmupArg, image] = process.argv.slice(2);
const threads = Number(threadsArg);
const runs = Number(runsArg);
const warmup = Number(warmupArg);

async function webRunner(): Promise<{ run: ModelRunner; threads: number }> {
  const ort = await import('onnxruntime-web');
  if (threads > 0) ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'warning';
  const session = await ort.InferenceSession.create(modelPath(), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const run: ModelRunner = async (input) => {
    const tensor = new ort.Tensor('float32', input, [1, 3, INPUT_SIZE, INPUT_SIZE]);
    const out = await session.run({ [INPUT_NAME]: tensor });
    return out[OUTPUT_NAME]!.data as Float32Array;
  };
  return { run, threads: Number(ort.env.wasm.numThreads ?? 0) };
}

async function main(): Promise<void> {
  const labels = parseLabels(readFileSync(labelsPath(), 'utf8'));
  const bytes = new Uint8Array(readFileSync(image!));
  const t0 = performance.now();
  const runner =
    runtime === 'web'
      ? await webRunner()
      : { run: (await createOrtRunner(modelPath(), threads > 0 ? { threads } : {})).run, threads };
  const loadMs = performance.now() - t0;
  const totalMs: number[] = [];
  const runMs: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const start = performance.now();
    const pixels = await decodeImage(bytes);
    const { timings } = await detect(runner.run, pixels, labels);
    const total = performance.now() - start;
    if (i >= warmup) {
      totalMs.push(total);
      runMs.push(timings.inferenceMs);
    }
  }
  process.stdout.write(`${JSON.stringify({ runtime, threads: runner.threads, loadMs, totalMs, runMs })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
