/**
 * A pool of inference workers, each with its own warm onnxruntime-web session:
 * on a multi-core machine several single-threaded sessions beat one
 * multi-threaded session on throughput (docs/PERFORMANCE.md, technique 1).
 * `detect` runs on an idle, loaded worker, or waits for one.
 */
import type { DetectOutput, InitInfo, InitOptions } from '../shared/api';
import { InferenceClient, type InferenceClientOptions } from './inferenceClient';

export interface PoolShape {
  /** How many workers (sessions). */
  workers: number;
  /** WASM threads per worker. */
  threadsPerWorker: number;
}

export interface PoolInitInfo extends InitInfo {
  /** Workers in the pool (`numThreads` is per worker). */
  workers: number;
}

const MAX_WORKERS = 8;
const clampInt = (n: number, max: number) => Math.max(1, Math.min(max, Math.floor(n)));

/**
 * The pool's shape:
 * - `?workers=K` / `?threads=N` overrides win (`threads` alone means one worker with N threads);
 * - cross-origin isolated: `min(cores, 4)` single-threaded workers;
 * - not isolated (no SharedArrayBuffer): one single-threaded worker.
 */
export function choosePoolShape(
  overrides: { workers?: number; threads?: number },
  env: { crossOriginIsolated: boolean; cores: number } = {
    crossOriginIsolated: self.crossOriginIsolated,
    cores: navigator.hardwareConcurrency || 1,
  },
): PoolShape {
  const valid = (n?: number): n is number => n !== undefined && Number.isFinite(n) && n >= 1;
  // Without isolation the WASM build runs one thread whatever is asked (see runtime.ts).
  const threads = (n: number) => (env.crossOriginIsolated ? clampInt(n, 16) : 1);
  if (valid(overrides.workers)) {
    return {
      workers: clampInt(overrides.workers, MAX_WORKERS),
      threadsPerWorker: threads(valid(overrides.threads) ? overrides.threads : 1),
    };
  }
  if (valid(overrides.threads)) return { workers: 1, threadsPerWorker: threads(overrides.threads) };
  if (!env.crossOriginIsolated) return { workers: 1, threadsPerWorker: 1 };
  return { workers: clampInt(Math.min(env.cores, 4), 4), threadsPerWorker: 1 };
}

export class InferencePool {
  private readonly clients: InferenceClient[];
  /** Workers whose model loaded at least once: only these take detects. */
  private readonly admitted = new Set<InferenceClient>();
  private readonly idle: InferenceClient[] = [];
  private readonly waiting: ((client: InferenceClient) => void)[] = [];

  constructor(
    readonly shape: PoolShape,
    options: InferenceClientOptions = {},
  ) {
    this.clients = Array.from({ length: shape.workers }, () => new InferenceClient(options));
  }

  get size(): number {
    return this.clients.length;
  }

  /**
   * Loads the model in the first worker (it downloads and caches the model) and resolves with its
   * info as soon as it can take work; the other workers then load from IndexedDB in the background
   * and join the pool when ready (one that fails to load is left out).
   */
  async init(options: Omit<InitOptions, 'numThreads'>): Promise<PoolInitInfo> {
    const withThreads: InitOptions = { ...options, numThreads: this.shape.threadsPerWorker };
    const [first, ...rest] = this.clients;
    const info = await first!.init(withThreads);
    this.admit(first!);
    for (const client of rest) {
      client.init(withThreads).then(
        () => this.admit(client),
        (err: unknown) => {
          console.warn('inference worker failed to load; the pool runs without it', err);
          if (!this.admitted.has(client)) client.terminate();
        },
      );
    }
    return { ...info, workers: this.clients.length };
  }

  /** Runs one image on an idle worker (waiting for one if all are busy). The buffer is transferred. */
  async detect(image: ArrayBuffer, mime: string, width?: number, height?: number): Promise<DetectOutput> {
    const client = await this.acquire();
    try {
      return await client.detect(image, mime, width, height);
    } finally {
      this.release(client);
    }
  }

  /** Kills every worker (and any running inference). The next call starts fresh ones. */
  terminate(): void {
    for (const c of this.clients) c.terminate();
  }

  private admit(client: InferenceClient): void {
    if (this.admitted.has(client)) return;
    this.admitted.add(client);
    this.release(client);
  }

  private acquire(): Promise<InferenceClient> {
    const client = this.idle.shift();
    if (client) return Promise.resolve(client);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(client: InferenceClient): void {
    const next = this.waiting.shift();
    if (next) next(client);
    else this.idle.push(client);
  }
}
