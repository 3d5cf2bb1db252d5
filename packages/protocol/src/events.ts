/**
 * Socket.IO event maps, one per namespace. The server is typed
 * `Namespace<VolunteerClientToServer, VolunteerServerToClient>` and the client
 * `Socket<VolunteerServerToClient, VolunteerClientToServer>`; no other file
 * names an event.
 */
import type { AckCallback } from './ack';
import type { ErrorCode } from './errors';
import type {
  Heartbeat,
  Hello,
  JobChanges,
  JobView,
  JobWatch,
  LiveResult,
  LiveSnapshot,
  LiveStats,
  TaskAssignment,
  TaskErrorReport,
  TaskResult,
  VolunteerCredits,
  VolunteerState,
} from './schemas';

// ------------------------------------------------------------- /volunteer

export interface VolunteerServerToClient {
  /** Sent once right after the handshake is accepted. */
  hello: (payload: Hello) => void;
  /**
   * A new lease. The volunteer must ack within the ack timeout (default 1 s)
   * or the task goes back to the queue (PROTOCOL.md rule T2).
   */
  'task:assign': (payload: TaskAssignment, ack: AckCallback<{ accepted: true }>) => void;
  /** The server took a lease back (lapsed, task done elsewhere, shutdown). Drop the work. */
  'task:cancel': (payload: { assignmentId: string; reason: ErrorCode }) => void;
  /**
   * Sent just before the server closes this connection because another connection presented the
   * same identity (PROTOCOL.md rule I4). The client must not reconnect on its own.
   */
  'volunteer:replaced': (payload: { message: string }) => void;
  /**
   * This volunteer's credit totals (PROTOCOL.md rule C1): after the handshake and whenever its
   * ledger entries change. Optional: servers without a ledger never send it.
   */
  'volunteer:credits': (payload: VolunteerCredits) => void;
}

export interface VolunteerClientToServer {
  /** Renew held leases; the answer lists the ones that are no longer held. */
  'task:heartbeat': (payload: Heartbeat, ack: AckCallback<{ renewed: string[]; lost: string[] }>) => void;
  /** Idempotent: a replay is acknowledged with `duplicate: true` and ignored. */
  'task:result': (payload: TaskResult, ack: AckCallback<{ accepted: boolean; duplicate: boolean }>) => void;
  /** The volunteer could not process the task; it is retried elsewhere. */
  'task:error': (payload: TaskErrorReport, ack: AckCallback<{ requeued: boolean }>) => void;
  /** Pause / resume taking new tasks without disconnecting. */
  'volunteer:state': (payload: VolunteerState, ack: AckCallback<VolunteerState>) => void;
}

// ------------------------------------------------------------- /live

export interface LiveServerToClient {
  /** Sent once on connect: the current figures and the newest results. */
  'live:snapshot': (payload: LiveSnapshot) => void;
  /** Every stored result, as it is stored. */
  'live:result': (payload: LiveResult) => void;
  /** Pushed about once a second. */
  'live:stats': (payload: LiveStats) => void;
  /** A watched job changed (see `job:watch`): its whole view. */
  'job:update': (payload: JobView) => void;
  /** A job watched with `changes: true` changed: only what changed (rule L12). */
  'job:changes': (payload: JobChanges) => void;
}

export interface LiveClientToServer {
  /**
   * Subscribe to `job:update` (or, with `changes: true`, `job:changes`) for one job; the ack
   * carries its current view.
   */
  'job:watch': (payload: JobWatch, ack: AckCallback<JobView>) => void;
  /** Stop `job:update` for one job; the ack echoes the job id (P3: every event is answered). */
  'job:unwatch': (payload: JobWatch, ack: AckCallback<JobWatch>) => void;
}

/** Names of every event a client may send, per namespace (unknown names are rejected). */
export const VOLUNTEER_CLIENT_EVENTS = [
  'task:heartbeat',
  'task:result',
  'task:error',
  'volunteer:state',
] as const satisfies readonly (keyof VolunteerClientToServer)[];

export const LIVE_CLIENT_EVENTS = [
  'job:watch',
  'job:unwatch',
] as const satisfies readonly (keyof LiveClientToServer)[];
