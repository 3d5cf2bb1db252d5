/** Section 1 (Node side): onnxruntime-node (native) and onnxruntime-web (WASM in Node), one child process per config. */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../../scripts/assets';
import { round1, summarize, type Summary } from './stats';

export interface InferenceConfigResult {
  /** e.g. `native`, `node-wasm`, `chromium-wasm`. */
  runtime: string;
  /** Threads requested; 0 = the runtime's default (native: all cores). */
  threads: number;
  runs: number;
  warmup: number;
  /** Session creation (Node) or model load + session (browser), ms. */
  loadMs: number;
  /** Per photo: decode + letterbox + model + NMS, ms. */
  totalMs: Summary;
  /** session.run only, ms. */
  runMs: Summary;
}

function runChild(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/sim/node-inference.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out.trim().split('\n').at(-1)!);
      else reject(new Error(`node-inference ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

export async function nodeInference(
  runtime: 'native' | 'web',
  threads: number,
  runs: number,
  warmup: number,
  image: string,
): Promise<InferenceConfigResult> {
  const line = await runChild([runtime, String(threads), String(runs), String(warmup), image]);
  const parsed = JSON.parse(line) as { loadMs: number; totalMs: number[]; runMs: number[] };
  return {
    runtime: runtime === 'native' ? 'native' : 'node-wasm',
    threads,
    runs,
    warmup,
    loadMs: round1(parsed.loadMs),
    totalMs: summarize(parsed.totalMs),
    runMs: summarize(parsed.runMs),
  };
}
