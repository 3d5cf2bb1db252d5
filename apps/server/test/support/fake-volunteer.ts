import {
  PROTOCOL_VERSION,
  type Detection,
  type Hello,
  type TaskAssignment,
  type VolunteerClientToServer,
  type VolunteerServerToClient,
} from '@tabgrid/protocol';
import http from 'node:http';
import { io, type Socket } from 'socket.io-client';

/**
 * How a scripted volunteer behaves — the failure fixtures of the fault suite:
 * - `honest`: acks, heartbeats, answers after `delayMs` with `detections`
 * - `no-ack`: never acknowledges an assignment
 * - `ack-then-silent`: acks, heartbeats, never answers
 * - `no-heartbeat`: acks, never heartbeats, never answers
 * - `undecodable`: acks, then reports `task:error` undecodable
 * - `inference-failed`: acks, then reports `task:error` inference_failed (a decliner)
 */
export type Behaviour =
  'honest' | 'no-ack' | 'ack-then-silent' | 'no-heartbeat' | 'undecodable' | 'inference-failed';

export interface FakeVolunteerOptions {
  /**
   * A label for this fake. The server issues the real id (see `volunteerId`); connecting again with
   * the same label to the same server resumes that identity with its token, as a real client does.
   */
  id: string;
  behaviour?: Behaviour;
  delayMs?: number;
  detections?: (task: TaskAssignment) => Detection[];
  /** socket.io-client reconnection (off by default in tests). */
  reconnection?: boolean;
  /** Tasks run at once, announced in the handshake (omitted = the protocol default, 1). */
  slots?: number;
  /**
   * Present exactly these credentials instead of the label's (identity tests: a stolen id, a
   * wrong token); `null` joins as a new volunteer even when the label has an identity.
   */
  credentials?: { volunteerId?: string; token?: string } | null;
  /** Connect from this loopback address (e.g. '127.0.1.7': another /24, issue 17). */
  localAddress?: string;
}

/** Identities issued to labels, per server: `${url}|${label}` -> credentials. */
const issued = new Map<string, { volunteerId: string; token: string }>();

/** The credentials the server issued to `label` on `url`, if any (identity tests). */
export const issuedIdentity = (url: string, label: string) => issued.get(`${url}|${label}`);

/** A real socket.io-client peer speaking the volunteer protocol, with a scripted behaviour. */
export class FakeVolunteer {
  readonly socket: Socket<VolunteerServerToClient, VolunteerClientToServer>;
  readonly assigned: TaskAssignment[] = [];
  readonly cancelled: string[] = [];
  readonly held = new Set<string>();
  readonly results: { assignmentId: string; ack: unknown }[] = [];
  /** Assignments it reported `task:error` on. */
  readonly reported: string[] = [];
  behaviour: Behaviour;
  hello: Hello | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    url: string,
    private readonly options: FakeVolunteerOptions,
  ) {
    this.behaviour = options.behaviour ?? 'honest';
    const key = `${url}|${options.id}`;
    const credentials = options.credentials === undefined ? issued.get(key) : options.credentials;
    this.socket = io(`${url}/volunteer`, {
      auth: {
        protocolVersion: PROTOCOL_VERSION,
        ...credentials,
        kind: 'agent',
        runtime: 'test fixture',
        ...(options.slots === undefined ? {} : { slots: options.slots }),
      },
      transports: ['websocket'],
      reconnection: options.reconnection ?? false,
      ...(options.localAddress
        ? { agent: new http.Agent({ localAddress: options.localAddress, keepAlive: false }) as never }
        : {}),
    });
    this.socket.on('hello', (hello) => {
      this.hello = hello;
      if (hello.token) issued.set(key, { volunteerId: hello.volunteerId, token: hello.token });
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => {
        if (this.behaviour === 'no-heartbeat' || this.held.size === 0) return;
        this.socket.emit('task:heartbeat', { assignmentIds: [...this.held] }, () => undefined);
      }, hello.heartbeatMs);
    });
    this.socket.on('task:cancel', ({ assignmentId }) => {
      this.cancelled.push(assignmentId);
      this.held.delete(assignmentId);
    });
    this.socket.on('task:assign', (task, ack) => {
      this.assigned.push(task);
      if (this.behaviour === 'no-ack') return;
      this.held.add(task.assignmentId);
      ack({ ok: true, data: { accepted: true } });
      if (this.behaviour === 'honest') setTimeout(() => void this.answer(task), options.delayMs ?? 5);
      if (this.behaviour === 'undecodable' || this.behaviour === 'inference-failed') {
        const code = this.behaviour === 'undecodable' ? 'undecodable' : 'inference_failed';
        setTimeout(() => {
          this.held.delete(task.assignmentId);
          this.reported.push(task.assignmentId);
          this.socket.emit(
            'task:error',
            { assignmentId: task.assignmentId, code, message: 'cannot run it' },
            () => undefined,
          );
        }, 5);
      }
    });
  }

  /** The server-issued id (after `hello`). */
  get volunteerId(): string {
    return this.hello?.volunteerId ?? '';
  }

  /** The public display name the server assigned (after `hello`). */
  get displayName(): string {
    return this.hello?.displayName ?? '';
  }

  static async connect(url: string, options: FakeVolunteerOptions): Promise<FakeVolunteer> {
    const v = new FakeVolunteer(url, options);
    await new Promise<void>((resolve, reject) => {
      v.socket.once('hello', () => resolve());
      v.socket.once('connect_error', reject);
    });
    return v;
  }

  /** Sends the scripted result for a task (also usable by hand for late/duplicate results). */
  async answer(task: TaskAssignment, detections?: Detection[]): Promise<unknown> {
    const payload = {
      assignmentId: task.assignmentId,
      detections: detections ?? this.options.detections?.(task) ?? defaultDetections(task),
      inferenceMs: 1,
    };
    const ack = await this.socket.timeout(5000).emitWithAck('task:result', payload);
    this.held.delete(task.assignmentId);
    this.results.push({ assignmentId: task.assignmentId, ack });
    return ack;
  }

  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.socket.close();
  }
}

/** A plausible result: one box inside the image. */
export function defaultDetections(task: Pick<TaskAssignment, 'width' | 'height'>): Detection[] {
  return [{ label: 'person', score: 0.9, box: [0, 0, Math.min(10, task.width), Math.min(10, task.height)] }];
}

/**
 * The volunteers one test file joins, closed together after each test.
 *
 * @example const pool = volunteerPool(() => server.url); afterEach(() => pool.closeAll());
 */
export function volunteerPool(url: () => string) {
  const joined: FakeVolunteer[] = [];
  return {
    async join(id: string, options: Partial<FakeVolunteerOptions> = {}): Promise<FakeVolunteer> {
      const v = await FakeVolunteer.connect(url(), { id, ...options });
      joined.push(v);
      return v;
    },
    closeAll(): void {
      for (const v of joined.splice(0)) v.close();
    },
  };
}
