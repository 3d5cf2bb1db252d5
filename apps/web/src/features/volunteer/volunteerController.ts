/**
 * The page's side of the volunteer: starts the socket worker
 * (`worker/socketWorker.ts`), receives its state snapshots over Comlink and
 * turns them into what the page renders (via useSyncExternalStore). No socket,
 * timer or lease lives on the main thread.
 */
import * as Comlink from 'comlink';
import type { Detection, VolunteerCredits } from '@tabgrid/protocol';
import type { VolunteerClientState } from '@tabgrid/volunteer-client';
import { choosePoolShape, type PoolInitInfo, type PoolShape } from '../inference/client';
import type {
  CurrentUpdate,
  MeasureReport,
  VolunteerWorkerApi,
  VolunteerWorkerOptions,
  WorkerSnapshot,
} from './shared/api';

export type VolunteerStatus = 'stopped' | 'connecting' | 'loading' | 'idle' | 'working' | 'paused' | 'error';

export interface CurrentImage {
  assignmentId: string;
  name: string;
  url: string;
  width: number;
  height: number;
  detections: Detection[];
  running: boolean;
  inferenceMs: number | null;
}

export interface VolunteerSnapshot {
  status: VolunteerStatus;
  error: string | null;
  /** Non-fatal notice (reconnecting, a rejected result...). */
  notice: string | null;
  /** The server-issued id (private to this browser; never shown to others). */
  volunteerId: string | null;
  /** The public pseudonym others see on /live. */
  displayName: string | null;
  started: boolean;
  connected: boolean;
  paused: boolean;
  runtime: PoolInitInfo | null;
  /** Inference workers and WASM threads per worker (known before the model loads). */
  pool: PoolShape;
  held: number;
  /** Tasks being inferred right now (at most pool.workers). */
  running: number;
  tasksDone: number;
  tasksFailed: number;
  lastInferenceMs: number | null;
  avgInferenceMs: number | null;
  /** Recent inference times (ms), newest last, at most 200. */
  inferenceSamplesMs: number[];
  current: CurrentImage | null;
  /** Resting between tasks to keep within the CPU budget (the client is paused meanwhile). */
  resting: boolean;
  /** Measured share (0–1) of the workers' time spent busy over the last minute (the CPU budget's check). */
  busyShare: number | null;
  /**
   * Credits from the server's ledger (`volunteer:credits`), when the server reports them; null
   * while it does not (the contribution panel then shows none).
   */
  credits: VolunteerCredits | null;
}

function statusOf(c: VolunteerClientState): VolunteerStatus {
  switch (c.phase) {
    case 'refused':
      return 'error';
    case 'stopped':
    case 'connecting':
    case 'loading':
      return c.phase;
    case 'ready':
      if (c.running > 0) return 'working';
      return c.paused ? 'paused' : 'idle';
  }
}

interface Connection {
  worker: Worker;
  remote: Comlink.Remote<VolunteerWorkerApi>;
  ready: Promise<unknown>;
}

export class VolunteerController {
  private readonly listeners = new Set<() => void>();
  /** The socket worker, created on first use and dropped by `dispose` (React StrictMode remounts). */
  private conn: Connection | null = null;
  private snapshot: VolunteerSnapshot;
  /** The owner's pause and the duty cycle, re-sent to every new socket worker. */
  private paused = false;
  private dutyCycle = 1;

  constructor(private options: VolunteerWorkerOptions = {}) {
    this.snapshot = {
      status: 'stopped',
      error: null,
      notice: null,
      volunteerId: null,
      displayName: null,
      started: false,
      connected: false,
      paused: false,
      runtime: null,
      pool: choosePoolShape(options),
      held: 0,
      running: 0,
      tasksDone: 0,
      tasksFailed: 0,
      lastInferenceMs: null,
      avgInferenceMs: null,
      inferenceSamplesMs: [],
      current: null,
      resting: false,
      busyShare: null,
      credits: null,
    };
  }

  private ensure(): Connection {
    if (this.conn) return this.conn;
    const worker = new Worker(new URL('./worker/socketWorker.ts', import.meta.url), {
      type: 'module',
      name: 'tabgrid-volunteer',
    });
    const remote = Comlink.wrap<VolunteerWorkerApi>(worker);
    const conn: Connection = { worker, remote, ready: Promise.resolve() };
    const mine = (fn: () => void) => {
      if (this.conn === conn) fn();
    };
    worker.addEventListener('error', (ev) =>
      mine(() =>
        this.patch({ status: 'error', error: `volunteer worker failed: ${ev.message || 'could not start'}` }),
      ),
    );
    conn.ready = remote
      .init(
        this.options,
        Comlink.proxy((s: WorkerSnapshot) => mine(() => this.onState(s))),
        Comlink.proxy((u: CurrentUpdate) => mine(() => this.onCurrent(u))),
      )
      .then(async (s) => {
        await remote.setPaused(this.paused);
        await remote.setDutyCycle(this.dutyCycle);
        mine(() => this.onState(s));
      });
    this.conn = conn;
    return conn;
  }

  // ------------------------------------------------------------ store API

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): VolunteerSnapshot => this.snapshot;

  private patch(patch: Partial<VolunteerSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of this.listeners) l();
  }

  private onState({
    client: c,
    pool,
    runtime,
    inferenceSamplesMs,
    resting,
    busyShare,
  }: WorkerSnapshot): void {
    this.patch({
      status: statusOf(c),
      error: c.error,
      notice: c.notice,
      volunteerId: c.volunteerId,
      displayName: c.displayName,
      started: c.phase !== 'stopped' && c.phase !== 'refused',
      connected: c.connected,
      paused: c.paused,
      runtime,
      pool,
      held: c.held,
      running: c.running,
      tasksDone: c.completed,
      tasksFailed: c.failed,
      lastInferenceMs: c.lastInferenceMs,
      avgInferenceMs: c.avgInferenceMs,
      inferenceSamplesMs,
      resting,
      busyShare,
      credits: c.credits,
    });
  }

  private onCurrent(update: CurrentUpdate): void {
    const current = this.snapshot.current;
    if (update.kind === 'started') {
      if (current) URL.revokeObjectURL(current.url);
      const url = URL.createObjectURL(new Blob([update.image], { type: update.mime }));
      const { assignmentId, name, width, height } = update;
      this.patch({
        current: { assignmentId, name, url, width, height, detections: [], running: true, inferenceMs: null },
      });
      return;
    }
    if (current?.assignmentId !== update.assignmentId) return; // not the photo on display
    if (update.kind === 'failed') return this.patch({ current: { ...current, running: false } });
    const { width, height, detections, inferenceMs } = update;
    this.patch({ current: { ...current, width, height, detections, inferenceMs, running: false } });
  }

  // ------------------------------------------------------------ commands

  private command(fn: (remote: Comlink.Remote<VolunteerWorkerApi>) => Promise<unknown>): void {
    const { ready, remote } = this.ensure();
    void ready
      .then(() => fn(remote))
      .catch((err: unknown) => this.patch({ status: 'error', error: `volunteer worker: ${String(err)}` }));
  }

  start(): void {
    this.command((r) => r.start());
  }

  stop(): void {
    this.command((r) => r.stop());
  }

  /** Pause / resume taking new tasks, keeping the connection (held tasks still finish). */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (this.conn) this.command((r) => r.setPaused(paused));
  }

  /** The CPU budget's duty cycle (0 < fraction ≤ 1), see `VolunteerWorkerApi.setDutyCycle`. */
  setDutyCycle(fraction: number): void {
    this.dutyCycle = fraction;
    if (this.conn) this.command((r) => r.setDutyCycle(fraction));
  }

  /**
   * A new inference pool size: the pool is fixed per socket worker, so the worker
   * is replaced (held work is released as on Stop) and restarted if it was running.
   */
  setWorkers(workers: number | undefined): void {
    if (workers === this.options.workers) return;
    const wasStarted = this.snapshot.started;
    this.dispose();
    this.options = { ...this.options, workers };
    this.patch({ pool: choosePoolShape(this.options) });
    if (wasStarted) this.start();
  }

  /** The socket worker's timings (`?measure=1` only; null otherwise or before the worker exists). */
  async measures(): Promise<MeasureReport | null> {
    return this.conn ? this.conn.remote.measures() : null;
  }

  /** Stops the volunteer and terminates its workers; call when the page goes away. */
  dispose(): void {
    const conn = this.conn;
    this.conn = null;
    if (conn) {
      void conn.ready
        .then(() => conn.remote.dispose())
        .catch(() => undefined)
        .finally(() => conn.worker.terminate());
    }
    if (this.snapshot.current) URL.revokeObjectURL(this.snapshot.current.url);
    this.patch({ ...this.stoppedState(), current: null });
  }

  private stoppedState(): Partial<VolunteerSnapshot> {
    return { status: 'stopped', started: false, connected: false, held: 0, running: 0 };
  }
}
