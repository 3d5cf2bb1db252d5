/**
 * UI-side handle on the inference worker: creates it, wraps it with Comlink,
 * rebuilds typed errors, and can be terminated and recreated (the only way to
 * abort a running inference).
 */
import * as Comlink from 'comlink';
import type { DetectOutput, InferenceApi, InitInfo, InitOptions } from '../shared/api';
import { InferenceError, toInferenceError } from '../shared/errors';

export interface InferenceClientOptions {
  /** A detect call slower than this kills and recreates the worker. @defaultValue 60000 */
  detectTimeoutMs?: number;
}

export class InferenceClient {
  private worker: Worker | null = null;
  private remote: Comlink.Remote<InferenceApi> | null = null;
  private lastInit: InitOptions | null = null;
  /** Rejects pending calls when the worker dies. */
  private crashed: Promise<never> | null = null;
  private readonly detectTimeoutMs: number;

  constructor(options: InferenceClientOptions = {}) {
    this.detectTimeoutMs = options.detectTimeoutMs ?? 60_000;
  }

  private ensure(): Comlink.Remote<InferenceApi> {
    if (this.remote) return this.remote;
    const worker = new Worker(new URL('../worker/worker.ts', import.meta.url), {
      type: 'module',
      name: 'tabgrid-inference',
    });
    this.crashed = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (ev) => {
        reject(new InferenceError('worker_crashed', ev.message || 'inference worker failed to start'));
        if (this.worker === worker) this.terminate();
      });
    });
    this.crashed.catch(() => undefined);
    this.worker = worker;
    this.remote = Comlink.wrap<InferenceApi>(worker);
    return this.remote;
  }

  private async call<T>(
    fn: (remote: Comlink.Remote<InferenceApi>) => Promise<T>,
    timeoutMs?: number,
  ): Promise<T> {
    const remote = this.ensure();
    const races: Promise<T>[] = [fn(remote), this.crashed!];
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs) {
      races.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new InferenceError('timeout', `inference took longer than ${timeoutMs} ms`));
          }, timeoutMs);
        }),
      );
    }
    try {
      return await Promise.race(races);
    } catch (err) {
      const typed = toInferenceError(err);
      // Terminating is the only way to stop a stuck run; the fresh worker reloads from IndexedDB.
      if (typed.code === 'timeout') void this.restart().catch(() => undefined);
      throw typed;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Loads (or reuses) the model. */
  init(options: InitOptions): Promise<InitInfo> {
    this.lastInit = options;
    return this.call((r) => r.init(options));
  }

  /** Runs one image. The buffer is transferred to the worker (detached here). */
  detect(image: ArrayBuffer, mime: string, width?: number, height?: number): Promise<DetectOutput> {
    return this.call(
      (r) => r.detect(Comlink.transfer(image, [image]), mime, width, height),
      this.detectTimeoutMs,
    );
  }

  /** Kills the worker (and any running inference). The next call starts a fresh one. */
  terminate(): void {
    this.worker?.terminate();
    this.worker = null;
    this.remote = null;
    this.crashed = null;
  }

  /** Terminates and starts a fresh worker, re-running the last init (model then comes from IndexedDB). */
  async restart(): Promise<InitInfo | null> {
    this.terminate();
    return this.lastInit ? this.init(this.lastInit) : null;
  }
}
