/**
 * The volunteer's brain, free of React: socket lifecycle, lease FIFO,
 * heartbeats, up to one inference per pool worker at a time, result reporting
 * with retries. The page renders `getSnapshot()` via useSyncExternalStore.
 */
import {
  TaskAssignmentSchema,
  type Ack,
  type Detection,
  type Hello,
  type TaskFailureCode,
} from '@tabgrid/protocol';
import {
  InferencePool,
  choosePoolShape,
  toInferenceError,
  type InferenceErrorCode,
  type PoolInitInfo,
  type PoolShape,
} from '../inference/client';
import { connectErrorData, createVolunteerSocket, type VolunteerSocket } from '../../lib/socket';
import { getVolunteerId } from '../../lib/volunteerId';
import { HeldTasks, type HeldTask } from './heldTasks';

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
  volunteerId: string;
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
  current: CurrentImage | null;
}

export interface VolunteerOptions {
  /** WASM threads per worker override (e.g. from `?threads=N`; alone it means one worker). */
  numThreads?: number;
  /** Worker pool size override (e.g. from `?workers=K`). */
  workers?: number;
}

const RESULT_TIMEOUT_MS = 5000;
const RESULT_ATTEMPTS = 4;
/** Handshake rejections worth retrying by hand (socket.io does not retry middleware rejections). */
const TRANSIENT_CONNECT_CODES = new Set(['rate_limited', 'shutting_down', 'internal']);

const toTaskFailure = (code: InferenceErrorCode): TaskFailureCode =>
  code === 'undecodable' || code === 'model_mismatch' ? code : 'inference_failed';

export class VolunteerController {
  private readonly listeners = new Set<() => void>();
  private readonly inference: InferencePool;
  private readonly held = new HeldTasks();
  private readonly volunteerId = getVolunteerId();
  private readonly inferenceTimes: number[] = [];
  private inferenceSum = 0;
  private inferenceCount = 0;

  private socket: VolunteerSocket | null = null;
  /** Bumped on stop: async work from an older session checks it and bails out. */
  private generation = 0;
  private hello: Hello | null = null;
  private readySha: string | null = null;
  private loadingSha: string | null = null;
  /** What this connection last told the server (a fresh connection accepts by default). */
  private sentAccepting = true;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private reconnectDelay = 1000;
  private running = 0;

  private snapshot: VolunteerSnapshot;

  constructor(options: VolunteerOptions = {}) {
    this.inference = new InferencePool(
      choosePoolShape({ workers: options.workers, threads: options.numThreads }),
    );
    this.snapshot = {
      status: 'stopped',
      error: null,
      notice: null,
      volunteerId: this.volunteerId,
      started: false,
      connected: false,
      paused: false,
      runtime: null,
      pool: this.inference.shape,
      held: 0,
      running: 0,
      tasksDone: 0,
      tasksFailed: 0,
      lastInferenceMs: null,
      avgInferenceMs: null,
      current: null,
    };
  }

  // ------------------------------------------------------------ store API

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): VolunteerSnapshot => this.snapshot;

  /** Recent inference times (ms), newest last, at most 200. */
  get recentInferenceMs(): readonly number[] {
    return this.inferenceTimes;
  }

  private update(patch: Partial<VolunteerSnapshot>): void {
    const next = { ...this.snapshot, ...patch, held: this.held.size, running: this.running };
    next.status = this.deriveStatus(next);
    this.snapshot = next;
    for (const l of this.listeners) l();
  }

  private deriveStatus(s: VolunteerSnapshot): VolunteerStatus {
    if (s.error) return 'error';
    if (!s.started) return 'stopped';
    if (!s.connected) return 'connecting';
    if (this.loadingSha) return 'loading';
    if (s.running > 0) return 'working';
    if (s.paused) return 'paused';
    return 'idle';
  }

  // ------------------------------------------------------------ commands

  start(): void {
    if (this.socket) return;
    const generation = ++this.generation;
    const { workers, threadsPerWorker } = this.inference.shape;
    const socket = createVolunteerSocket({
      volunteerId: this.volunteerId,
      kind: 'browser',
      runtime: `onnxruntime-web wasm simd workers=${workers} threads=${threadsPerWorker}${self.crossOriginIsolated ? '' : ' (not isolated)'}`,
      slots: workers,
    });
    this.socket = socket;
    this.wire(socket, generation);
    this.update({ started: true, error: null, notice: null, connected: false });
    socket.connect();
  }

  stop(): void {
    this.generation++;
    this.clearTimers();
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socket = null;
    this.hello = null;
    this.held.clear(); // the server takes the leases back when we disconnect or they lapse
    this.update({ started: false, connected: false, notice: null, current: this.finishCurrent() });
  }

  /** Pause / resume taking new tasks, keeping the connection (held tasks still finish). */
  setPaused(paused: boolean): void {
    this.update({ paused });
    this.syncAccepting();
  }

  /** Stops and kills the worker; call when the page goes away. */
  dispose(): void {
    this.stop();
    this.inference.terminate();
    if (this.snapshot.current) URL.revokeObjectURL(this.snapshot.current.url);
  }

  // ------------------------------------------------------------ socket events

  private wire(socket: VolunteerSocket, generation: number): void {
    const live = () => generation === this.generation;

    socket.on('connect', () => {
      if (!live()) return;
      this.sentAccepting = true;
      this.reconnectDelay = 1000;
      this.update({ connected: true, notice: null });
    });

    socket.on('hello', (hello) => {
      if (!live()) return;
      this.hello = hello;
      this.startHeartbeat(socket, hello.heartbeatMs);
      if (this.held.size > 0) void this.heartbeat(socket); // learn at once which leases survived
      if (this.readySha !== hello.model.sha256) void this.loadModel(hello, generation);
      else this.syncAccepting();
    });

    socket.on('task:assign', (payload, ack) => {
      // Ack first: the server's ack timeout is ~1 s, the inference comes later.
      const parsed = TaskAssignmentSchema.safeParse(payload);
      if (!parsed.success || !live()) {
        ack({
          ok: false,
          code: 'invalid_payload',
          message: live() ? 'malformed task:assign' : 'volunteer stopped',
        });
        return;
      }
      ack({ ok: true, data: { accepted: true } });
      this.held.add(parsed.data);
      this.update({});
      this.pump();
    });

    socket.on('task:cancel', ({ assignmentId }) => {
      if (!live()) return;
      this.drop(assignmentId);
    });

    socket.on('disconnect', (reason) => {
      if (!live()) return;
      this.stopHeartbeat();
      this.update({ connected: false, notice: `disconnected (${reason}), reconnecting…` });
      // A server-side disconnect is not retried by socket.io itself.
      if (reason === 'io server disconnect') this.scheduleReconnect(socket, generation);
    });

    socket.on('connect_error', (err) => {
      if (!live()) return;
      const data = connectErrorData(err);
      if (socket.active) {
        this.update({ notice: `cannot connect (${err.message}), retrying…` });
        return;
      }
      // Rejected by the server's handshake middleware: socket.io will not retry.
      if (data && TRANSIENT_CONNECT_CODES.has(data.code)) {
        this.update({ notice: `server busy (${data.code}): ${data.message}; retrying…` });
        this.scheduleReconnect(socket, generation);
      } else {
        this.fail(data ? `${data.code}: ${data.message}` : `connection refused: ${err.message}`);
      }
    });
  }

  private scheduleReconnect(socket: VolunteerSocket, generation: number): void {
    if (this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 15_000);
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = null;
        if (generation === this.generation) socket.connect();
      },
      delay * (0.75 + Math.random() * 0.5),
    );
  }

  /** Fatal: show the error and disconnect. */
  private fail(message: string): void {
    this.stop();
    this.update({ error: message });
  }

  private syncAccepting(): void {
    const socket = this.socket;
    if (!socket?.connected || !this.hello) return;
    const want = !this.snapshot.paused && this.readySha === this.hello.model.sha256 && !this.loadingSha;
    if (want === this.sentAccepting) return;
    this.sentAccepting = want;
    socket
      .timeout(RESULT_TIMEOUT_MS)
      .emitWithAck('volunteer:state', { accepting: want })
      .then((res) => {
        if (!res.ok) this.update({ notice: `volunteer:state rejected: ${res.code}` });
      })
      .catch(() => {
        if (this.sentAccepting === want) this.sentAccepting = !want; // unknown: try again next time
      });
  }

  // ------------------------------------------------------------ heartbeat

  private startHeartbeat(socket: VolunteerSocket, everyMs: number): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(socket), Math.max(250, everyMs));
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private clearTimers(): void {
    this.stopHeartbeat();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private async heartbeat(socket: VolunteerSocket): Promise<void> {
    const assignmentIds = this.held.ids().slice(0, 16);
    if (assignmentIds.length === 0 || !socket.connected) return;
    try {
      const res = await socket
        .timeout(this.hello?.heartbeatMs ?? RESULT_TIMEOUT_MS)
        .emitWithAck('task:heartbeat', { assignmentIds });
      if (res.ok) for (const id of res.data.lost) this.drop(id);
    } catch {
      // timed out: the next beat tries again
    }
  }

  // ------------------------------------------------------------ model

  private async loadModel(hello: Hello, generation: number): Promise<void> {
    const sha = hello.model.sha256;
    if (this.loadingSha === sha) return;
    this.loadingSha = sha;
    this.readySha = null;
    this.update({});
    this.syncAccepting();
    try {
      const runtime = await this.inference.init({
        modelUrl: hello.model.url,
        sha256: sha,
        labels: hello.model.labels,
      });
      if (generation !== this.generation || this.loadingSha !== sha) return;
      this.loadingSha = null;
      this.readySha = sha;
      this.update({ runtime });
      this.syncAccepting();
      this.pump();
    } catch (err) {
      if (this.loadingSha === sha) this.loadingSha = null;
      if (generation !== this.generation) return;
      const typed = toInferenceError(err);
      const socket = this.socket;
      if (socket) {
        await Promise.all(
          this.held.all().map((t) => this.reportError(socket, t, toTaskFailure(typed.code), typed.message)),
        );
      }
      this.fail(`model could not be loaded (${typed.code}): ${typed.message}`);
    }
  }

  // ------------------------------------------------------------ work loop

  /** Starts queued tasks, oldest first, while a pool worker is free. */
  private pump(): void {
    for (;;) {
      const socket = this.socket;
      const generation = this.generation;
      if (!socket || !this.readySha || this.loadingSha) return;
      if (this.running >= this.inference.size) return;
      const task = this.held.nextQueued();
      if (!task || !task.image) return;
      this.running += 1;
      void this.runOne(socket, generation, task).finally(() => {
        this.running -= 1;
        this.update({});
        this.pump();
      });
    }
  }

  /** Shows `assignmentId` in the UI if it is the photo on display (the latest started). */
  private showing(assignmentId: string): boolean {
    return this.snapshot.current?.assignmentId === assignmentId;
  }

  private async runOne(socket: VolunteerSocket, generation: number, task: HeldTask): Promise<void> {
    const { assignmentId, name, mime, width, height } = task.assignment;
    const image = task.image!;
    task.image = null;
    task.state = 'running';
    const previous = this.snapshot.current;
    if (previous) URL.revokeObjectURL(previous.url);
    // Blob copies the bytes, so the buffer can be transferred to the worker afterwards.
    const url = URL.createObjectURL(new Blob([image], { type: mime }));
    this.update({
      current: { assignmentId, name, url, width, height, detections: [], running: true, inferenceMs: null },
    });

    try {
      const out = await this.inference.detect(image, mime, width, height);
      if (generation !== this.generation) return;
      const inferenceMs = out.timings.totalMs;
      this.recordInference(inferenceMs);
      if (this.showing(assignmentId)) {
        this.update({
          current: {
            assignmentId,
            name,
            url,
            width: out.width,
            height: out.height,
            detections: out.detections,
            running: false,
            inferenceMs,
          },
        });
      }
      if (!this.held.has(assignmentId)) return; // cancelled while running: drop the result
      task.state = 'reporting';
      void this.reportResult(socket, generation, assignmentId, out.detections, inferenceMs);
    } catch (err) {
      if (generation !== this.generation) return;
      const typed = toInferenceError(err);
      this.update({
        ...(this.showing(assignmentId) ? { current: { ...this.snapshot.current!, running: false } } : {}),
        tasksFailed: this.snapshot.tasksFailed + 1,
      });
      if (this.held.has(assignmentId))
        await this.reportError(socket, task, toTaskFailure(typed.code), typed.message);
      if (typed.code === 'model_mismatch') this.fail(typed.message);
    }
  }

  private finishCurrent(): CurrentImage | null {
    const c = this.snapshot.current;
    return c ? { ...c, running: false } : null;
  }

  private recordInference(ms: number): void {
    this.inferenceSum += ms;
    this.inferenceCount += 1;
    this.inferenceTimes.push(ms);
    if (this.inferenceTimes.length > 200) this.inferenceTimes.shift();
    this.update({ lastInferenceMs: ms, avgInferenceMs: this.inferenceSum / this.inferenceCount });
  }

  /** `task:result` with a 5 s ack timeout, retried (the server ignores replays). */
  private async reportResult(
    socket: VolunteerSocket,
    generation: number,
    assignmentId: string,
    detections: Detection[],
    inferenceMs: number,
  ): Promise<void> {
    const payload = { assignmentId, detections, inferenceMs: Math.round(inferenceMs * 100) / 100 };
    for (let attempt = 1; attempt <= RESULT_ATTEMPTS; attempt++) {
      if (generation !== this.generation) return;
      let res: Ack<{ accepted: boolean; duplicate: boolean }>;
      try {
        res = await socket.timeout(RESULT_TIMEOUT_MS).emitWithAck('task:result', payload);
      } catch {
        continue; // ack timeout: send again
      }
      if (generation !== this.generation) return;
      this.held.remove(assignmentId);
      if (res.ok && (res.data.accepted || res.data.duplicate)) {
        this.update({ tasksDone: this.snapshot.tasksDone + 1 });
      } else {
        this.update({
          notice: res.ok ? 'result not accepted' : `result rejected (${res.code}): ${res.message}`,
        });
      }
      this.pump();
      return;
    }
    this.held.remove(assignmentId);
    this.update({ notice: `no ack for result of ${assignmentId} after ${RESULT_ATTEMPTS} attempts` });
  }

  private async reportError(
    socket: VolunteerSocket,
    task: HeldTask,
    code: TaskFailureCode,
    message: string,
  ): Promise<void> {
    const { assignmentId } = task.assignment;
    this.held.remove(assignmentId);
    this.update({});
    try {
      await socket
        .timeout(RESULT_TIMEOUT_MS)
        .emitWithAck('task:error', { assignmentId, code, message: message.slice(0, 500) });
    } catch {
      // the lease lapses on its own
    }
  }

  private drop(assignmentId: string): void {
    if (this.held.remove(assignmentId)) this.update({});
  }
}
