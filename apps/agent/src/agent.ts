/**
 * A headless volunteer: the browser worker's job done by onnxruntime-node.
 * Joins `/volunteer`, loads and verifies the model the server announces, acks
 * every assignment at once, runs one task at a time with the next one
 * prefetched, and reports results with acknowledged, retried emits.
 *
 * `startAgent` is what `main.ts` runs and what integration tests run in-process.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  fail,
  HelloSchema,
  LIMITS,
  NAMESPACES,
  ok,
  PROTOCOL_VERSION,
  TaskAssignmentSchema,
  TaskResultSchema,
  type Detection,
  type ErrorCode,
  type Hello,
  type TaskAssignment,
  type TaskFailureCode,
  type VolunteerAuth,
  type VolunteerClientToServer,
  type VolunteerServerToClient,
} from '@tabgrid/protocol';
import { detect, NUM_CLASSES, sha256Hex } from '@tabgrid/detector';
import { createOrtRunner, decodeImage, UndecodableImageError, type OrtRunner } from './runner';

export type VolunteerSocket = Socket<VolunteerServerToClient, VolunteerClientToServer>;

/** The model `install-assets.mjs` puts in `public/models/`, used when its hash matches the server's. */
export const DEFAULT_LOCAL_MODEL = fileURLToPath(
  new URL('../../../public/models/yolox_nano.onnx', import.meta.url),
);

export interface AgentOptions {
  /** Server origin, e.g. `http://localhost:8080`. */
  server: string;
  /** Persistent volunteer id (`[A-Za-z0-9_-]{1,64}`). */
  volunteerId: string;
  /**
   * A model file to use. Its SHA-256 must equal the server's; the agent refuses
   * to work otherwise (it does not fall back to downloading).
   */
  modelPath?: string;
  /**
   * Used when `modelPath` is unset and the file's hash matches the server's;
   * otherwise the model is downloaded from `hello.model.url`.
   * @defaultValue DEFAULT_LOCAL_MODEL (`public/models/yolox_nano.onnx`)
   */
  localModelPath?: string;
  /** onnxruntime intra-op threads. @defaultValue onnxruntime's default */
  threads?: number;
  /** Ack timeout for `task:result` / `task:error`, ms. @defaultValue 5000 */
  ackTimeoutMs?: number;
  /** Attempts per `task:result` / `task:error` before giving up. @defaultValue 5 */
  maxReportAttempts?: number;
  /** Extra socket.io-client options (tests use `reconnection: false`, `transports`). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /** Receives one human-readable line per notable event. */
  log?: (line: string) => void;
}

export interface AgentStats {
  volunteerId: string;
  connected: boolean;
  /** Set when the agent refused to work (e.g. the model hash did not match). */
  refused: string | null;
  assigned: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Results and errors the server acknowledged as duplicates. */
  duplicates: number;
  /** `task:result` / `task:error` emits repeated after an ack timeout. */
  reportRetries: number;
  /** Work dropped because the connection was lost before it was reported. */
  dropped: number;
  lastInferenceMs: number | null;
}

export interface AgentEvents {
  connected: [];
  disconnected: [reason: string];
  /** The model is loaded and verified; tasks run from now on. */
  ready: [info: { modelSha256: string; modelSource: string; hello: Hello }];
  assigned: [task: { assignmentId: string; taskId: string; name: string }];
  /** A result was reported; `accepted`/`duplicate` as the server acked them. */
  result: [
    result: {
      assignmentId: string;
      taskId: string;
      detections: Detection[];
      inferenceMs: number;
      accepted: boolean;
      duplicate: boolean;
    },
  ];
  /** A `task:error` was reported. */
  failed: [failure: { assignmentId: string; taskId: string; code: TaskFailureCode; message: string }];
  /** The server took a lease back (`task:cancel`, or `lost` in a heartbeat ack). */
  cancelled: [info: { assignmentId: string; reason: string }];
  /** The agent will not work: bad model, rejected handshake. It has disconnected. */
  fatal: [error: Error];
}

export interface Agent {
  readonly socket: VolunteerSocket;
  /** Live counters (the same object, updated in place). */
  readonly stats: Readonly<AgentStats>;
  /** Subscribes to an agent event; returns the unsubscribe function. */
  on<E extends keyof AgentEvents>(event: E, listener: (...args: AgentEvents[E]) => void): () => void;
  /** Pause (`false`) or resume (`true`) taking new tasks, via `volunteer:state`. */
  setAccepting(accepting: boolean): Promise<boolean>;
  /** Disconnects, drops queued work, waits for a running inference, releases the session. */
  stop(): Promise<void>;
}

interface Work {
  assignment: TaskAssignment;
  /** Connection generation the assignment belongs to; older work is stale. */
  generation: number;
  cancelled: boolean;
}

type AckOf<E extends keyof VolunteerClientToServer> = Parameters<
  Parameters<VolunteerClientToServer[E]>[1]
>[0];
type PayloadOf<E extends keyof VolunteerClientToServer> = Parameters<VolunteerClientToServer[E]>[0];

class AckTimeoutError extends Error {
  override readonly name = 'AckTimeoutError';
}

/**
 * Connects a headless volunteer and returns at once; listen for `ready`,
 * `result`, `fatal` to follow it.
 *
 * @example
 * const agent = startAgent({ server: 'http://localhost:8080', volunteerId: 'agent-1' });
 * agent.on('result', (r) => console.log(r.detections.length));
 * process.on('SIGINT', () => void agent.stop());
 */
export function startAgent(options: AgentOptions): Agent {
  const log = options.log ?? (() => {});
  const ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  const maxReportAttempts = options.maxReportAttempts ?? 5;
  const emitter = new EventEmitter();
  const emit = <E extends keyof AgentEvents>(event: E, ...args: AgentEvents[E]) => {
    emitter.emit(event, ...args);
  };

  const stats: AgentStats = {
    volunteerId: options.volunteerId,
    connected: false,
    refused: null,
    assigned: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    duplicates: 0,
    reportRetries: 0,
    dropped: 0,
    lastInferenceMs: null,
  };

  const auth: VolunteerAuth = {
    protocolVersion: PROTOCOL_VERSION,
    volunteerId: options.volunteerId,
    kind: 'agent',
    runtime: 'onnxruntime-node cpu',
  };
  const socket: VolunteerSocket = io(new URL(NAMESPACES.volunteer, options.server).href, {
    ...options.socketOptions,
    auth,
  });

  let generation = 0;
  let stopping = false;
  let heartbeat: NodeJS.Timeout | null = null;
  /** Assignments this agent holds (queued, running or being reported). */
  const held = new Map<string, Work>();
  const queue: Work[] = [];
  let running: Promise<void> | null = null;

  let labels: string[] = [];
  let model: { sha256: string; runner: Promise<OrtRunner> } | null = null;

  // ------------------------------------------------------------ emits with acks

  async function request<E extends keyof VolunteerClientToServer>(
    event: E,
    payload: PayloadOf<E>,
    timeoutMs: number,
  ): Promise<AckOf<E>> {
    // socket.io-client's typings cannot express emitWithAck on a timeout()-decorated socket.
    const timed = socket.timeout(timeoutMs) as unknown as {
      emitWithAck(event: E, payload: PayloadOf<E>): Promise<AckOf<E>>;
    };
    try {
      return await timed.emitWithAck(event, payload);
    } catch (err) {
      throw new AckTimeoutError(err instanceof Error ? err.message : String(err));
    }
  }

  /** Emits with a timeout, retrying on timeout while the work is still current. */
  async function report<E extends 'task:result' | 'task:error'>(
    work: Work,
    event: E,
    payload: PayloadOf<E>,
  ): Promise<AckOf<E> | null> {
    for (let attempt = 1; attempt <= maxReportAttempts; attempt++) {
      if (!isCurrent(work)) return null;
      try {
        return await request(event, payload, ackTimeoutMs);
      } catch (err) {
        if (!(err instanceof AckTimeoutError)) throw err;
        stats.reportRetries++;
        log(`${event} ${work.assignment.assignmentId}: no ack in ${ackTimeoutMs} ms (attempt ${attempt})`);
      }
    }
    log(`${event} ${work.assignment.assignmentId}: giving up after ${maxReportAttempts} attempts`);
    return null;
  }

  const isCurrent = (work: Work) =>
    !stopping && !work.cancelled && work.generation === generation && socket.connected;

  // ------------------------------------------------------------ model

  async function loadModel(info: Hello['model']): Promise<{ runner: OrtRunner; source: string }> {
    let bytes: Uint8Array;
    let source: string;
    if (options.modelPath) {
      bytes = await readFile(options.modelPath);
      source = options.modelPath;
    } else {
      const local = options.localModelPath ?? DEFAULT_LOCAL_MODEL;
      const localBytes = existsSync(local) ? await readFile(local) : null;
      if (localBytes && (await sha256Hex(localBytes)) === info.sha256) {
        bytes = localBytes;
        source = local;
      } else {
        const url = new URL(info.url, options.server).href;
        const response = await fetch(url);
        if (!response.ok) throw new Error(`model download ${url} failed: HTTP ${response.status}`);
        bytes = new Uint8Array(await response.arrayBuffer());
        source = url;
      }
    }
    const actual = await sha256Hex(bytes);
    if (actual !== info.sha256) {
      throw new ModelMismatchError(
        `model from ${source} has sha256 ${actual}, the server expects ${info.sha256}`,
      );
    }
    return { runner: await createOrtRunner(bytes, { threads: options.threads }), source };
  }

  function refuse(error: Error) {
    stats.refused = error.message;
    log(`refusing to work: ${error.message}`);
    emit('fatal', error);
    socket.disconnect();
  }

  // ------------------------------------------------------------ work loop

  function pump() {
    if (running || stopping) return;
    const work = queue.shift();
    if (!work) return;
    running = runTask(work)
      .catch((err: unknown) => log(`internal error on ${work.assignment.assignmentId}: ${String(err)}`))
      .finally(() => {
        held.delete(work.assignment.assignmentId);
        running = null;
        pump();
      });
  }

  async function runTask(work: Work) {
    const { assignmentId, taskId } = work.assignment;
    if (!model) {
      await sendError(work, 'inference_failed', 'no model announced yet (task arrived before hello)');
      return;
    }
    let runner: OrtRunner;
    try {
      runner = await model.runner;
    } catch (err) {
      await sendError(work, 'model_mismatch', err instanceof Error ? err.message : String(err));
      return;
    }
    if (!isCurrent(work)) return drop(work);

    const image = work.assignment.image;
    let pixels;
    try {
      pixels = await decodeImage(image instanceof Uint8Array ? image : new Uint8Array(image));
    } catch (err) {
      const message = err instanceof UndecodableImageError ? err.message : String(err);
      await sendError(work, 'undecodable', `image could not be decoded: ${message}`);
      return;
    }
    let detections: Detection[];
    let inferenceMs: number;
    try {
      const out = await detect(runner.run, pixels, labels);
      detections = out.detections.slice(0, LIMITS.maxDetections);
      inferenceMs = out.timings.preprocessMs + out.timings.inferenceMs + out.timings.postprocessMs;
    } catch (err) {
      await sendError(work, 'inference_failed', err instanceof Error ? err.message : String(err));
      return;
    }
    if (!isCurrent(work)) return drop(work);

    const payload = TaskResultSchema.safeParse({ assignmentId, detections, inferenceMs });
    if (!payload.success) {
      await sendError(work, 'inference_failed', `result failed validation: ${payload.error.message}`);
      return;
    }
    stats.lastInferenceMs = inferenceMs;
    const ack = await report(work, 'task:result', payload.data);
    if (!ack) return drop(work);
    if (!ack.ok) {
      log(`result ${assignmentId} rejected: ${ack.code} ${ack.message}`);
      return;
    }
    stats.completed++;
    if (ack.data.duplicate) stats.duplicates++;
    log(
      `task ${taskId} (${work.assignment.name}): ${detections.length} detections in ${inferenceMs.toFixed(1)} ms`,
    );
    emit('result', { assignmentId, taskId, detections, inferenceMs, ...ack.data });
  }

  async function sendError(work: Work, code: TaskFailureCode, message: string) {
    const { assignmentId, taskId } = work.assignment;
    const text = message.slice(0, LIMITS.maxMessageLength);
    const ack = await report(work, 'task:error', { assignmentId, code, message: text });
    if (!ack) return drop(work);
    if (!ack.ok) {
      log(`error report ${assignmentId} rejected: ${ack.code} ${ack.message}`);
      return;
    }
    stats.failed++;
    log(`task ${taskId}: reported ${code}: ${text}`);
    emit('failed', { assignmentId, taskId, code, message: text });
  }

  function drop(work: Work) {
    if (!work.cancelled) stats.dropped++;
  }

  function cancel(assignmentId: string, reason: string) {
    const work = held.get(assignmentId);
    if (!work) return;
    work.cancelled = true;
    held.delete(assignmentId);
    const i = queue.indexOf(work);
    if (i >= 0) queue.splice(i, 1);
    stats.cancelled++;
    log(`assignment ${assignmentId} cancelled (${reason})`);
    emit('cancelled', { assignmentId, reason });
  }

  // ------------------------------------------------------------ socket events

  socket.on('connect', () => {
    stats.connected = true;
    log(`connected to ${options.server} as ${options.volunteerId}`);
    emit('connected');
  });

  socket.on('connect_error', (err: Error & { data?: { code?: string; message?: string } }) => {
    const code = err.data?.code ? ` (${err.data.code})` : '';
    log(`connection failed: ${err.data?.message ?? err.message}${code}`);
    // An inactive socket means the server rejected the handshake: no retry.
    if (!socket.active && !stopping)
      refuse(new Error(`handshake rejected: ${err.data?.message ?? err.message}${code}`));
  });

  socket.on('disconnect', (reason) => {
    stats.connected = false;
    generation++;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    // The server returns our leases to the queue; nothing stale is sent later.
    for (const work of queue.splice(0)) drop(work);
    held.clear();
    log(`disconnected: ${reason}`);
    emit('disconnected', reason);
  });

  socket.on('hello', (payload) => {
    const parsed = HelloSchema.safeParse(payload);
    if (!parsed.success) return refuse(new Error(`invalid hello from server: ${parsed.error.message}`));
    const hello = parsed.data;
    if (hello.model.labels.length !== NUM_CLASSES) {
      return refuse(
        new Error(`server announced ${hello.model.labels.length} labels, expected ${NUM_CLASSES}`),
      );
    }
    labels = hello.model.labels;

    if (heartbeat) clearInterval(heartbeat);
    heartbeat = setInterval(() => void sendHeartbeat(hello.heartbeatMs), hello.heartbeatMs);
    heartbeat.unref();

    if (model?.sha256 === hello.model.sha256) return; // reconnect: keep the warm session
    const previous = model;
    const loading = loadModel(hello.model);
    model = { sha256: hello.model.sha256, runner: loading.then((m) => m.runner) };
    model.runner.catch(() => undefined); // failures are handled below and in runTask
    void previous?.runner.then((r) => r.close()).catch(() => undefined);
    loading.then(
      ({ source }) => {
        log(`model ready (sha256 ${hello.model.sha256.slice(0, 12)}…, from ${source})`);
        emit('ready', { modelSha256: hello.model.sha256, modelSource: source, hello });
      },
      (err: unknown) => refuse(err instanceof Error ? err : new Error(String(err))),
    );
  });

  socket.on('task:assign', (payload, ack) => {
    const respond = typeof ack === 'function' ? ack : () => {};
    if (stopping || stats.refused) {
      respond(fail('shutting_down', 'this volunteer is stopping'));
      return;
    }
    const parsed = TaskAssignmentSchema.safeParse(payload);
    if (!parsed.success) {
      respond(fail('invalid_payload', parsed.error.message.slice(0, LIMITS.maxMessageLength)));
      return;
    }
    const assignment = parsed.data;
    if (held.has(assignment.assignmentId)) {
      respond(ok({ accepted: true }));
      return;
    }
    respond(ok({ accepted: true }));
    const work: Work = { assignment, generation, cancelled: false };
    held.set(assignment.assignmentId, work);
    queue.push(work);
    stats.assigned++;
    emit('assigned', {
      assignmentId: assignment.assignmentId,
      taskId: assignment.taskId,
      name: assignment.name,
    });
    pump();
  });

  socket.on('task:cancel', ({ assignmentId, reason }: { assignmentId: string; reason: ErrorCode }) =>
    cancel(assignmentId, reason),
  );

  async function sendHeartbeat(timeoutMs: number) {
    const assignmentIds = [...held.keys()].slice(0, 16);
    if (assignmentIds.length === 0 || !socket.connected) return;
    try {
      const ack = await request('task:heartbeat', { assignmentIds }, timeoutMs);
      if (ack.ok) for (const id of ack.data.lost) cancel(id, 'lease_expired');
    } catch {
      // A missed heartbeat ack is not fatal; the next one retries.
    }
  }

  // ------------------------------------------------------------ handle

  return {
    socket,
    stats,
    on(event, listener) {
      emitter.on(event, listener as (...args: unknown[]) => void);
      return () => emitter.off(event, listener as (...args: unknown[]) => void);
    },
    async setAccepting(accepting) {
      const ack = await request('volunteer:state', { accepting }, ackTimeoutMs);
      if (!ack.ok) throw new Error(`volunteer:state rejected: ${ack.code} ${ack.message}`);
      return ack.data.accepting;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      for (const work of queue.splice(0)) work.cancelled = true;
      if (heartbeat) clearInterval(heartbeat);
      socket.disconnect();
      await running;
      const runner = await model?.runner.catch(() => null);
      await runner?.close();
    },
  };
}

/** The model's hash does not match the one the server announced. */
export class ModelMismatchError extends Error {
  override readonly name = 'ModelMismatchError';
}
