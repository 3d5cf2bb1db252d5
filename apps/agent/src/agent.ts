/**
 * A headless volunteer: the shared `VolunteerClient` (socket, identity, acks,
 * held tasks, heartbeats, retries) driving a pool of onnxruntime-node
 * sessions (`NodeRunnerPool`), with its identity in a state file.
 *
 * `startAgent` is what `main.ts` runs and what integration tests run in-process.
 */
import {
  MemoryIdentityStore,
  VolunteerClient,
  type IdentityStore,
  type VolunteerClientEvents,
  type VolunteerClientOptions,
  type VolunteerSocket,
} from '@tabgrid/volunteer-client';
import { NodeRunnerPool, type NodeRunnerPoolOptions } from './runner-pool';
import type { VolunteerCredits } from '@tabgrid/protocol';

export { DEFAULT_LOCAL_MODEL } from './runner-pool';
export { ModelMismatchError } from '@tabgrid/volunteer-client';

export interface AgentOptions extends NodeRunnerPoolOptions {
  /** Server origin, e.g. `http://localhost:8080`. */
  server: string;
  /**
   * Where the server-issued identity is kept (`FileIdentityStore` for `--state`).
   * @defaultValue a new identity per run (in memory)
   */
  identity?: IdentityStore;
  /** Ack timeout for `task:result` / `task:error`, ms. @defaultValue 5000 */
  ackTimeoutMs?: number;
  /** Attempts per `task:result` / `task:error` before giving up. @defaultValue 5 */
  maxReportAttempts?: number;
  /** Extra socket.io-client options (tests use `reconnection: false`); the transport is always WebSocket. */
  socketOptions?: VolunteerClientOptions['socketOptions'];
  /** Receives one human-readable line per notable event. */
  log?: (line: string) => void;
}

export interface AgentStats {
  /** The server-issued id, once known. */
  volunteerId: string | null;
  displayName: string | null;
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
  /** Credits from the server's ledger (`volunteer:credits`), once it sent them. */
  credits: VolunteerCredits | null;
}

export type AgentEvents = Pick<
  VolunteerClientEvents,
  | 'connected'
  | 'disconnected'
  | 'identity'
  | 'ready'
  | 'assigned'
  | 'result'
  | 'failed'
  | 'cancelled'
  | 'fatal'
>;

export interface Agent {
  /** The current (or last) connection; null before the first connect. */
  readonly socket: VolunteerSocket | null;
  readonly client: VolunteerClient;
  /** Live counters (a fresh object per read). */
  readonly stats: Readonly<AgentStats>;
  /** Subscribes to an agent event; returns the unsubscribe function. */
  on<E extends keyof AgentEvents>(event: E, listener: (...args: AgentEvents[E]) => void): () => void;
  /** Pause (`false`) or resume (`true`) taking new tasks, via `volunteer:state`. */
  setAccepting(accepting: boolean): Promise<boolean>;
  /** Disconnects, drops queued work, waits for running inferences, releases the sessions. */
  stop(): Promise<void>;
}

/**
 * Connects a headless volunteer and returns at once; listen for `ready`,
 * `result`, `fatal` to follow it.
 *
 * @example
 * const agent = startAgent({ server: 'http://localhost:8080', slots: 2 });
 * agent.on('result', (r) => console.log(r.detections.length));
 * process.on('SIGINT', () => void agent.stop());
 */
export function startAgent(options: AgentOptions): Agent {
  const runner = new NodeRunnerPool(options);
  const client = new VolunteerClient({
    server: options.server,
    kind: 'agent',
    runtime: `onnxruntime-node cpu${runner.slots > 1 ? ` slots=${runner.slots}` : ''}`,
    runner,
    identity: options.identity ?? new MemoryIdentityStore(),
    ackTimeoutMs: options.ackTimeoutMs,
    maxReportAttempts: options.maxReportAttempts,
    socketOptions: options.socketOptions,
    log: options.log,
  });
  let lastSocket: VolunteerSocket | null = null;
  client.on('connected', () => (lastSocket = client.socket));
  const starting = client.start().then(() => (lastSocket = client.socket));
  let stopping: Promise<void> | null = null;

  return {
    client,
    get socket() {
      return client.socket ?? lastSocket;
    },
    get stats(): AgentStats {
      const s = client.state;
      return {
        volunteerId: s.volunteerId,
        displayName: s.displayName,
        connected: s.connected,
        refused: s.phase === 'refused' ? s.error : null,
        assigned: s.assigned,
        completed: s.completed,
        failed: s.failed,
        cancelled: s.cancelled,
        duplicates: s.duplicates,
        reportRetries: s.reportRetries,
        dropped: s.dropped,
        lastInferenceMs: s.lastInferenceMs,
        credits: s.credits,
      };
    },
    on: (event, listener) => client.on(event, listener),
    setAccepting: (accepting) => client.setAccepting(accepting),
    stop() {
      stopping ??= starting.then(() => client.close());
      return stopping;
    },
  };
}
