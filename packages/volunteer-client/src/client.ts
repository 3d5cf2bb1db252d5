/**
 * The one volunteer protocol client, shared by the browser's socket worker and
 * the headless agent: the Socket.IO connection, the server-issued identity,
 * acks, the held-task queue, heartbeats, result retries and the runner's slots.
 * It knows nothing about how inference runs (`Runner`) or where the identity
 * is kept (`IdentityStore`).
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  connectErrorData,
  fail,
  HelloSchema,
  isRetryable,
  LIMITS,
  NAMESPACES,
  ok,
  PROTOCOL_VERSION,
  TaskAssignmentSchema,
  TaskResultSchema,
  VolunteerCreditsSchema,
  type Detection,
  type ErrorCode,
  type Hello,
  type TaskAssignment,
  type TaskFailureCode,
  type VolunteerAuth,
  type VolunteerCredits,
  type VolunteerClientToServer,
  type VolunteerServerToClient,
} from '@tabgrid/protocol';
import { Backoff } from './backoff';
import { Emitter } from './emitter';
import { readBinaryEventFrame } from './offer-header';
import type { IdentityStore, VolunteerIdentity } from './identity';
import { toRunnerError, type Runner, type RunnerTask } from './runner';
import { initialState, type VolunteerClientState } from './state';

export type VolunteerSocket = Socket<VolunteerServerToClient, VolunteerClientToServer>;

export interface VolunteerClientOptions {
  /** Server origin, e.g. `http://localhost:8080`; `''` = the page's own origin (browser). */
  server: string;
  kind: VolunteerAuth['kind'];
  /** Free-form runtime description shown in logs. */
  runtime?: string;
  runner: Runner;
  identity: IdentityStore;
  /** Ack timeout for `task:result` / `task:error` / `volunteer:state`, ms. @defaultValue 5000 */
  ackTimeoutMs?: number;
  /** Attempts per `task:result` / `task:error` before giving up. @defaultValue 5 */
  maxReportAttempts?: number;
  /** Backoff between reconnects after a refusal or a server-side close, ms. @defaultValue [1000, 15000] */
  reconnectDelayMs?: [min: number, max: number];
  /** Extra socket.io-client options (tests use `reconnection: false`); `transports` is always `['websocket']`. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /** Receives one human-readable line per notable event. */
  log?: (line: string) => void;
  /**
   * Measuring only (off by default): told of every offer just after its ack was sent, with
   * epoch-ms timestamps on the same clock as the server's (`performance.timeOrigin + now()`).
   */
  onOfferTiming?: (timing: OfferTiming) => void;
}

/**
 * When an offer reached the client and when its ack left, in `Date.now()` ms (the one clock this
 * process shares with the server's on one machine; `performance.timeOrigin` drifts from it).
 */
export interface OfferTiming {
  assignmentId: string;
  taskId: string;
  /** The offer's first WebSocket frame (the packet, before its binary attachment) arrived. */
  headerAt: number;
  /** The `task:assign` handler ran (the whole message, image included, had arrived). */
  receivedAt: number;
  /** `ack` was called (socket.io-client writes it to the WebSocket synchronously); sub-ms. */
  ackSentAt: number;
  /** Tasks held and running when the offer arrived. */
  held: number;
  running: number;
}

/** A held task as the UI sees it: what the runner gets, without the image bytes. */
export type TaskInfo = Omit<RunnerTask, 'image'>;

export interface VolunteerClientEvents {
  /** Every change: the new immutable snapshot. */
  state: [state: VolunteerClientState];
  connected: [];
  disconnected: [reason: string];
  /** The handshake was accepted; `issued` when this handshake created the identity. */
  identity: [identity: { volunteerId: string; displayName: string; issued: boolean }];
  /** The model is loaded and verified; tasks run from now on. */
  ready: [info: { modelSha256: string; modelSource: string; hello: Hello }];
  assigned: [task: TaskInfo];
  /** A task goes to the runner now (`image` is still attached: copy it to keep it). */
  started: [task: RunnerTask];
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
  /** A task failed (reported with `task:error` when the lease was still ours). */
  failed: [failure: { assignmentId: string; taskId: string; code: TaskFailureCode; message: string }];
  /** The server took a lease back (`task:cancel`, or `lost` in a heartbeat ack). */
  cancelled: [info: { assignmentId: string; reason: string }];
  /** The client will not work (bad model, handshake refused for good). It has disconnected. */
  fatal: [error: Error];
}

/** A handshake the server refused, with its wire code. */
export class HandshakeRefusedError extends Error {
  override readonly name = 'HandshakeRefusedError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The model's hash does not match the one the server announced (rule T1). */
export class ModelMismatchError extends Error {
  override readonly name = 'ModelMismatchError';
}

class AckTimeoutError extends Error {
  override readonly name = 'AckTimeoutError';
}

/** First wait before resending a report refused with a retryable code (doubles each time, ≤ 4 s). */
const RETRYABLE_BASE_MS = 250;

/** Refusals worth retrying later: socket.io does not retry middleware rejections itself. */
const TRANSIENT_CODES = new Set(['rate_limited', 'shutting_down', 'internal', 'too_many_volunteers']);

interface Work {
  assignment: TaskAssignment;
  /** Connection generation the assignment belongs to; older work is stale. */
  generation: number;
  cancelled: boolean;
  running: boolean;
}

type AckOf<E extends keyof VolunteerClientToServer> = Parameters<
  Parameters<VolunteerClientToServer[E]>[1]
>[0];
type PayloadOf<E extends keyof VolunteerClientToServer> = Parameters<VolunteerClientToServer[E]>[0];

/** socket.io-parser's ACK packet type. */
const ACK_PACKET = 3;

/** An offer's fields without its image, as its packet frame carries them. */
const OfferHeadSchema = TaskAssignmentSchema.omit({ image: true });

const taskInfo = (a: TaskAssignment): TaskInfo => ({
  assignmentId: a.assignmentId,
  taskId: a.taskId,
  name: a.name,
  mime: a.mime,
  width: a.width,
  height: a.height,
});

/**
 * One volunteer. `start()` connects (and reconnects with backoff), `stop()`
 * disconnects; both may be called again. Follow it with `on('state', …)`.
 *
 * @example
 * const client = new VolunteerClient({ server, kind: 'agent', runner, identity: new MemoryIdentityStore() });
 * client.on('result', (r) => console.log(r.detections.length));
 * await client.start();
 */
export class VolunteerClient {
  private readonly events = new Emitter<VolunteerClientEvents>();
  private readonly log: (line: string) => void;
  private readonly ackTimeoutMs: number;
  private readonly maxReportAttempts: number;
  private readonly backoff: Backoff;
  private current: VolunteerClientState;

  private socket_: VolunteerSocket | null = null;
  private identity: VolunteerIdentity | null = null;
  /** Bumped on every disconnect and stop: work from an older connection is stale. */
  private generation = 0;
  private started = false;
  private replaced = false;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly held = new Map<string, Work>();
  private readonly queue: Work[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private model: { sha256: string; ready: boolean } | null = null;
  /** What this connection last told the server (a fresh connection accepts by default). */
  private sentAccepting = true;
  private inferenceSum = 0;
  private inferenceCount = 0;
  private readonly recent: number[] = [];
  /** Measuring only: when the last binary event's packet frame arrived. */
  private headerAt = 0;
  /**
   * Offers acked from their packet frame whose image is still on its way (PROTOCOL.md T2), by
   * assignment id: `cancelled` when `task:cancel` came first.
   */
  private readonly early = new Map<string, { ackSentAt: number; cancelled: boolean }>();

  constructor(private readonly options: VolunteerClientOptions) {
    this.log = options.log ?? (() => {});
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.maxReportAttempts = options.maxReportAttempts ?? 5;
    this.backoff = new Backoff(...(options.reconnectDelayMs ?? [1000, 15_000]));
    this.current = initialState(options.runner.slots);
  }

  // ------------------------------------------------------------ observable state

  get state(): VolunteerClientState {
    return this.current;
  }

  /** The current connection (null when stopped). */
  get socket(): VolunteerSocket | null {
    return this.socket_;
  }

  /** Recent inference times (ms), newest last, at most 200. */
  get recentInferenceMs(): readonly number[] {
    return this.recent;
  }

  on<E extends keyof VolunteerClientEvents>(
    event: E,
    listener: (...args: VolunteerClientEvents[E]) => void,
  ): () => void {
    return this.events.on(event, listener);
  }

  private update(patch: Partial<VolunteerClientState>): void {
    const next = { ...this.current, ...patch, held: this.held.size };
    this.current = next;
    this.events.emit('state', next);
  }

  private phaseWhileStarted(): VolunteerClientState['phase'] {
    if (!this.socket_?.connected) return 'connecting';
    return this.model?.ready ? 'ready' : 'loading';
  }

  // ------------------------------------------------------------ commands

  /** Loads the stored identity and connects. Resolves once the socket is connecting. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.replaced = false;
    this.update({ phase: 'connecting', error: null, errorCode: null, notice: null });
    try {
      this.identity = await this.options.identity.load();
    } catch {
      this.identity = null; // unreadable storage is a miss: the server issues a new identity
    }
    if (!this.started) return;
    if (this.identity) this.update({ volunteerId: this.identity.volunteerId });
    const url = this.options.server
      ? new URL(NAMESPACES.volunteer, this.options.server).href
      : NAMESPACES.volunteer;
    const socket: VolunteerSocket = io(url, {
      ...this.options.socketOptions,
      // WebSocket only, never long-polling: one TCP connection per volunteer, so any L4 load
      // balancer can spread volunteers over gateways without sticky sessions (docs/DEPLOY.md).
      transports: ['websocket'],
      autoConnect: false,
      // A function: read again on every (re)connection, so a newly issued identity is presented.
      auth: (cb) => cb(this.auth()),
    });
    this.socket_ = socket;
    this.wire(socket);
    socket.connect();
  }

  /**
   * Disconnects and drops queued work; waits for running inferences to end.
   * The server returns the leases to the queue. `start()` may be called again.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.endConnection();
    const socket = this.socket_;
    this.socket_ = null;
    socket?.removeAllListeners();
    socket?.disconnect();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.update({
      phase: this.current.phase === 'refused' ? 'refused' : 'stopped',
      connected: false,
      running: 0,
    });
    await Promise.all(this.inFlight);
  }

  /** Stops and releases the runner's sessions. */
  async close(): Promise<void> {
    await this.stop();
    await this.options.runner.close();
  }

  /** Pause (`true`) or resume taking new tasks without disconnecting; held tasks still finish. */
  setPaused(paused: boolean): void {
    this.update({ paused });
    void this.syncAccepting();
  }

  /**
   * Tells the server at once whether to offer tasks (`volunteer:state`), and
   * resolves with the acked value.
   */
  async setAccepting(accepting: boolean): Promise<boolean> {
    this.update({ paused: !accepting });
    const ack = await this.request('volunteer:state', { accepting }, this.ackTimeoutMs);
    if (!ack.ok) throw new Error(`volunteer:state rejected: ${ack.code} ${ack.message}`);
    this.sentAccepting = ack.data.accepting;
    return ack.data.accepting;
  }

  private auth(): VolunteerAuth {
    return {
      protocolVersion: PROTOCOL_VERSION,
      kind: this.options.kind,
      ...(this.options.runtime ? { runtime: this.options.runtime.slice(0, 200) } : {}),
      slots: Math.max(1, Math.min(8, this.options.runner.slots)),
      ...(this.identity ? { volunteerId: this.identity.volunteerId, token: this.identity.token } : {}),
    };
  }

  // ------------------------------------------------------------ socket events

  private wire(socket: VolunteerSocket): void {
    const live = () => this.socket_ === socket && this.started;

    socket.on('connect', () => {
      if (!live()) return;
      this.sentAccepting = true;
      this.backoff.reset();
      this.log(`connected to ${this.options.server || 'this origin'}`);
      this.update({ connected: true, notice: null, phase: this.phaseWhileStarted() });
      this.events.emit('connected');
    });

    socket.on('connect_error', (err) => {
      if (!live()) return;
      const data = connectErrorData(err);
      const text = data ? `${data.message} (${data.code})` : err.message;
      this.log(`connection failed: ${text}`);
      if (socket.active) {
        this.update({ notice: `cannot connect (${err.message}), retrying…` });
        return; // a transport failure: socket.io retries with its own backoff
      }
      // Refused by the server's handshake middleware: socket.io will not retry.
      if (data?.code === 'identity_rejected' && this.identity) {
        // The stored identity is unknown here (e.g. a fresh server database): start over as new.
        this.log(`the server does not know identity ${this.identity.volunteerId}; asking for a new one`);
        this.identity = null;
        void this.options.identity.clear().catch(() => undefined);
        this.update({ volunteerId: null, displayName: null, notice: 'identity refused; joining anew' });
        this.scheduleReconnect(socket, 0);
      } else if (data && TRANSIENT_CODES.has(data.code)) {
        this.update({ notice: `server busy (${data.code}): ${data.message}; retrying…` });
        this.scheduleReconnect(socket);
      } else {
        this.refuse(new HandshakeRefusedError(data?.code ?? 'internal', `handshake rejected: ${text}`));
      }
    });

    socket.on('disconnect', (reason) => {
      if (!live()) return;
      this.endConnection();
      this.log(`disconnected: ${reason}`);
      this.update({
        connected: false,
        running: 0,
        phase: this.replaced ? 'stopped' : 'connecting',
        notice: this.replaced ? this.current.notice : `disconnected (${reason}), reconnecting…`,
      });
      this.events.emit('disconnected', reason);
      if (this.replaced) {
        this.started = false;
        this.socket_ = null;
        socket.removeAllListeners();
        return;
      }
      // A server-side close is not retried by socket.io itself.
      if (reason === 'io server disconnect') this.scheduleReconnect(socket);
    });

    socket.on('volunteer:replaced', ({ message }) => {
      if (!live()) return;
      this.replaced = true;
      this.log(`replaced: ${message}`);
      this.update({ notice: `stopped: ${message}` });
    });

    socket.on('hello', (payload) => {
      if (!live()) return;
      const parsed = HelloSchema.safeParse(payload);
      if (!parsed.success)
        return this.refuse(new Error(`invalid hello from server: ${parsed.error.message}`));
      void this.onHello(socket, parsed.data);
    });

    // Ack an offer as soon as its packet frame is in, before its image (PROTOCOL.md T2).
    socket.io.on('open', () =>
      socket.io.engine.on('data', (data: unknown) => {
        if (typeof data === 'string' && live()) this.onPacketFrame(socket, data);
      }),
    );

    socket.on('task:assign', (payload, ack) => {
      const receivedAt = this.options.onOfferTiming ? Date.now() : 0;
      const t0 = this.options.onOfferTiming ? performance.now() : 0;
      const id = (payload as { assignmentId?: unknown } | null)?.assignmentId;
      const early = typeof id === 'string' ? this.early.get(id) : undefined;
      if (early) this.early.delete(id as string);
      // Acked already from its packet frame: never answer twice.
      const respond = early ? () => {} : typeof ack === 'function' ? ack : () => {};
      if (!live()) return respond(fail('shutting_down', 'this volunteer is stopping'));
      // Ack first: the server's ack timeout is ~1 s, the inference comes later.
      const parsed = TaskAssignmentSchema.safeParse(payload);
      if (!parsed.success) {
        if (early && typeof id === 'string') void this.refuseAccepted(id, parsed.error.message);
        return respond(fail('invalid_payload', parsed.error.message.slice(0, LIMITS.maxMessageLength)));
      }
      respond(ok({ accepted: true }));
      const assignment = parsed.data;
      this.options.onOfferTiming?.({
        assignmentId: assignment.assignmentId,
        taskId: assignment.taskId,
        headerAt: this.headerAt,
        receivedAt,
        ackSentAt: early?.ackSentAt ?? receivedAt + (performance.now() - t0),
        held: this.held.size,
        running: this.current.running,
      });
      if (early?.cancelled || this.held.has(assignment.assignmentId)) return;
      const work: Work = { assignment, generation: this.generation, cancelled: false, running: false };
      this.held.set(assignment.assignmentId, work);
      this.queue.push(work);
      this.update({ assigned: this.current.assigned + 1 });
      this.events.emit('assigned', taskInfo(assignment));
      this.pump();
    });

    socket.on('task:cancel', ({ assignmentId, reason }: { assignmentId: string; reason: ErrorCode }) => {
      if (live()) this.cancel(assignmentId, reason);
    });

    socket.on('volunteer:credits', (payload) => {
      const parsed = VolunteerCreditsSchema.safeParse(payload);
      if (!live() || !parsed.success) return;
      if (this.current.credits === null) this.log(`credits: ${creditsLine(parsed.data)}`);
      this.update({ credits: parsed.data });
    });
  }

  /**
   * A text frame from the server: when it is a `task:assign` packet whose image follows, acks the
   * offer now (the same ack packet socket.io-client would send once the image is in; the handler
   * then does not answer again). An offer that fails the schema without its image waits for the
   * full message and is refused there, as before.
   */
  private onPacketFrame(socket: VolunteerSocket, frame: string): void {
    const packet = readBinaryEventFrame(frame, NAMESPACES.volunteer, 'task:assign');
    if (this.options.onOfferTiming && packet) this.headerAt = Date.now();
    if (!packet) return;
    const head = OfferHeadSchema.safeParse(packet.args[0]);
    if (!head.success || this.held.has(head.data.assignmentId) || this.early.has(head.data.assignmentId))
      return;
    // socket.io-client's own ack packet (`Socket#ack`), sent before the image's frame is read.
    const ack = { type: ACK_PACKET, id: packet.ackId, data: [ok({ accepted: true })] };
    (socket as unknown as { packet(p: typeof ack): void }).packet(ack);
    const t = this.options.onOfferTiming ? Date.now() : 0;
    this.early.set(head.data.assignmentId, { ackSentAt: t, cancelled: false });
  }

  /** An offer acked from its packet frame whose full message failed the schema: say so at once. */
  private async refuseAccepted(assignmentId: string, message: string): Promise<void> {
    this.log(`offer ${assignmentId} was not valid once complete: ${message}`);
    await this.request(
      'task:error',
      {
        assignmentId,
        code: 'inference_failed',
        message: `invalid offer: ${message}`.slice(0, LIMITS.maxMessageLength),
      },
      this.ackTimeoutMs,
    ).catch(() => undefined);
  }

  private scheduleReconnect(socket: VolunteerSocket, delayMs = this.backoff.delay()): void {
    if (this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.socket_ === socket && this.started) socket.connect();
    }, delayMs);
  }

  /** The connection ended: the server returns our leases; nothing stale is sent later. */
  private endConnection(): void {
    this.generation++;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const work of this.queue.splice(0)) this.drop(work);
    this.held.clear();
    this.early.clear();
  }

  private refuse(error: Error): void {
    this.log(`refusing to work: ${error.message}`);
    this.update({
      phase: 'refused',
      error: error.message,
      errorCode: error instanceof HandshakeRefusedError ? error.code : null,
    });
    this.events.emit('fatal', error);
    void this.stop();
  }

  private async onHello(socket: VolunteerSocket, hello: Hello): Promise<void> {
    const issued = hello.token !== undefined;
    const identity: VolunteerIdentity = {
      volunteerId: hello.volunteerId,
      token: hello.token ?? this.identity?.token ?? '',
      displayName: hello.displayName,
    };
    if (issued || this.identity?.displayName !== hello.displayName) {
      this.identity = identity;
      if (identity.token) {
        this.options.identity.save(identity).catch((err: unknown) => {
          this.log(`could not store the identity: ${String(err)}`);
          this.update({ notice: 'could not store this volunteer’s identity; it lasts this session only' });
        });
      }
    }
    this.log(`${issued ? 'joined as new volunteer' : 'resumed volunteer'} ${hello.displayName}`);
    this.update({ volunteerId: hello.volunteerId, displayName: hello.displayName });
    this.events.emit('identity', {
      volunteerId: hello.volunteerId,
      displayName: hello.displayName,
      issued,
    });

    if (this.heartbeat) clearInterval(this.heartbeat);
    const every = Math.max(5, hello.heartbeatMs);
    this.heartbeat = setInterval(() => void this.sendHeartbeat(socket, hello.heartbeatMs), every);
    (this.heartbeat as { unref?: () => void }).unref?.();

    if (this.model?.sha256 === hello.model.sha256) {
      // Reconnect: keep the warm sessions.
      void this.syncAccepting();
      this.pump();
      return;
    }
    const sha = hello.model.sha256;
    this.model = { sha256: sha, ready: false };
    this.update({ phase: 'loading', modelSha256: sha, modelSource: null });
    void this.syncAccepting();
    let loaded;
    try {
      loaded = await this.options.runner.load(hello.model, this.options.server);
    } catch (err) {
      if (this.model?.sha256 !== sha) return;
      const typed = toRunnerError(err);
      const error =
        typed.code === 'model_mismatch' ? new ModelMismatchError(typed.message) : new Error(typed.message);
      // Queued work is stale: say so, then stop.
      await Promise.all([...this.held.values()].map((w) => this.sendError(w, typed.code, typed.message)));
      return this.refuse(error);
    }
    if (this.model?.sha256 !== sha) return;
    this.model.ready = true;
    this.log(`model ready (sha256 ${sha.slice(0, 12)}…, from ${loaded.source})`);
    this.update({
      modelSource: loaded.source,
      runtime: loaded.details ?? null,
      phase: this.started ? this.phaseWhileStarted() : this.current.phase,
    });
    this.events.emit('ready', { modelSha256: sha, modelSource: loaded.source, hello });
    void this.syncAccepting();
    this.pump();
  }

  private async syncAccepting(): Promise<void> {
    const socket = this.socket_;
    if (!socket?.connected) return;
    const want = !this.current.paused && this.model?.ready === true;
    if (want === this.sentAccepting) return;
    this.sentAccepting = want;
    try {
      const res = await this.request('volunteer:state', { accepting: want }, this.ackTimeoutMs);
      if (!res.ok) this.update({ notice: `volunteer:state rejected: ${res.code}` });
    } catch {
      if (this.sentAccepting === want) this.sentAccepting = !want; // unknown: try again next time
    }
  }

  // ------------------------------------------------------------ emits with acks

  private async request<E extends keyof VolunteerClientToServer>(
    event: E,
    payload: PayloadOf<E>,
    timeoutMs: number,
  ): Promise<AckOf<E>> {
    const socket = this.socket_;
    if (!socket) throw new AckTimeoutError('not connected');
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

  private isCurrent(work: Work): boolean {
    return (
      this.started && !work.cancelled && work.generation === this.generation && !!this.socket_?.connected
    );
  }

  /**
   * Emits with a timeout, retrying while the work is still current (5 s, 5 attempts) on a timeout
   * and on a retryable refusal (`storage_unavailable`, …: PROTOCOL.md T11), after a backoff.
   */
  private async report<E extends 'task:result' | 'task:error'>(
    work: Work,
    event: E,
    payload: PayloadOf<E>,
  ): Promise<AckOf<E> | null> {
    for (let attempt = 1; attempt <= this.maxReportAttempts; attempt++) {
      if (!this.isCurrent(work)) return null;
      try {
        const ack = await this.request(event, payload, this.ackTimeoutMs);
        if (ack.ok || !isRetryable(ack.code) || attempt === this.maxReportAttempts) return ack;
        this.update({ reportRetries: this.current.reportRetries + 1 });
        this.log(`${event} ${work.assignment.assignmentId}: ${ack.code}, sending again (attempt ${attempt})`);
        await new Promise((r) => setTimeout(r, Math.min(4000, RETRYABLE_BASE_MS * 2 ** (attempt - 1))));
      } catch (err) {
        if (!(err instanceof AckTimeoutError)) throw err;
        this.update({ reportRetries: this.current.reportRetries + 1 });
        this.log(
          `${event} ${work.assignment.assignmentId}: no ack in ${this.ackTimeoutMs} ms (attempt ${attempt})`,
        );
      }
    }
    this.log(`${event} ${work.assignment.assignmentId}: giving up after ${this.maxReportAttempts} attempts`);
    return null;
  }

  private async sendHeartbeat(socket: VolunteerSocket, timeoutMs: number): Promise<void> {
    const assignmentIds = [...this.held.keys()].slice(0, 16);
    if (assignmentIds.length === 0 || !socket.connected || this.socket_ !== socket) return;
    try {
      const ack = await this.request('task:heartbeat', { assignmentIds }, timeoutMs);
      if (ack.ok) for (const id of ack.data.lost) this.cancel(id, 'lease_expired');
    } catch {
      // A missed heartbeat ack is not fatal; the next one retries.
    }
  }

  // ------------------------------------------------------------ work loop

  /** Starts queued tasks, oldest first, while a runner slot is free and the model is ready. */
  private pump(): void {
    while (this.started && this.model?.ready && this.current.running < this.options.runner.slots) {
      const work = this.queue.shift();
      if (!work) return;
      work.running = true;
      this.update({ running: this.current.running + 1 });
      const run: Promise<void> = this.runTask(work)
        .catch((err: unknown) =>
          this.log(`internal error on ${work.assignment.assignmentId}: ${String(err)}`),
        )
        .finally(() => {
          this.inFlight.delete(run);
          if (this.held.get(work.assignment.assignmentId) === work)
            this.held.delete(work.assignment.assignmentId);
          this.update({ running: Math.max(0, this.current.running - 1) });
          this.pump();
        });
      this.inFlight.add(run);
    }
  }

  private async runTask(work: Work): Promise<void> {
    const a = work.assignment;
    const { assignmentId, taskId } = a;
    this.events.emit('started', { ...taskInfo(a), image: a.image });
    let out;
    try {
      out = await this.options.runner.detect({ ...taskInfo(a), image: a.image });
    } catch (err) {
      const typed = toRunnerError(err);
      if (this.isCurrent(work)) await this.sendError(work, typed.code, typed.message);
      else this.drop(work);
      if (typed.fatal)
        this.refuse(typed.code === 'model_mismatch' ? new ModelMismatchError(typed.message) : typed);
      return;
    }
    if (!this.isCurrent(work)) return this.drop(work);
    const detections = out.detections.slice(0, LIMITS.maxDetections);
    const inferenceMs = Math.round(out.inferenceMs * 100) / 100;
    const payload = TaskResultSchema.safeParse({ assignmentId, detections, inferenceMs });
    if (!payload.success) {
      await this.sendError(work, 'inference_failed', `result failed validation: ${payload.error.message}`);
      return;
    }
    this.recordInference(inferenceMs);
    const ack = await this.report(work, 'task:result', payload.data);
    if (!ack) return this.drop(work);
    if (!ack.ok) {
      this.log(`result ${assignmentId} rejected: ${ack.code} ${ack.message}`);
      this.update({ notice: `result rejected (${ack.code}): ${ack.message}` });
      return;
    }
    this.update({
      completed: this.current.completed + 1,
      duplicates: this.current.duplicates + (ack.data.duplicate ? 1 : 0),
    });
    const credits = this.current.credits ? ` · credits ${creditsLine(this.current.credits)}` : '';
    this.log(
      `task ${taskId} (${a.name}): ${detections.length} detections in ${inferenceMs.toFixed(1)} ms${credits}`,
    );
    this.events.emit('result', { assignmentId, taskId, detections, inferenceMs, ...ack.data });
  }

  private async sendError(work: Work, code: TaskFailureCode, message: string): Promise<void> {
    const { assignmentId, taskId } = work.assignment;
    const text = message.slice(0, LIMITS.maxMessageLength);
    this.update({ failed: this.current.failed + 1 });
    const ack = await this.report(work, 'task:error', { assignmentId, code, message: text });
    if (!ack) this.drop(work);
    else if (!ack.ok) this.log(`error report ${assignmentId} rejected: ${ack.code} ${ack.message}`);
    else this.log(`task ${taskId}: reported ${code}: ${text}`);
    this.events.emit('failed', { assignmentId, taskId, code, message: text });
  }

  private drop(work: Work): void {
    if (!work.cancelled) this.update({ dropped: this.current.dropped + 1 });
    work.cancelled = true;
  }

  private cancel(assignmentId: string, reason: string): void {
    const early = this.early.get(assignmentId);
    if (early) early.cancelled = true; // its image is still on its way: dropped when it lands
    const work = this.held.get(assignmentId);
    if (!work) return;
    work.cancelled = true;
    this.held.delete(assignmentId);
    const i = this.queue.indexOf(work);
    if (i >= 0) this.queue.splice(i, 1);
    this.log(`assignment ${assignmentId} cancelled (${reason})`);
    this.update({ cancelled: this.current.cancelled + 1 });
    this.events.emit('cancelled', { assignmentId, reason });
  }

  private recordInference(ms: number): void {
    this.inferenceSum += ms;
    this.inferenceCount += 1;
    this.recent.push(ms);
    if (this.recent.length > 200) this.recent.shift();
    this.update({ lastInferenceMs: ms, avgInferenceMs: this.inferenceSum / this.inferenceCount });
  }
}

/** Credits for a status line: granted (verified) and pending (may still be revoked), today and in all. */
export function creditsLine(c: VolunteerCredits): string {
  return (
    `${c.total.granted} granted + ${c.total.pending} pending in all, ` +
    `${c.today.granted} + ${c.today.pending} today${c.quickBonus ? ', quick-return bonus on' : ''}`
  );
}
