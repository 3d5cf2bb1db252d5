/** The volunteer client's observable state: one immutable snapshot per change. */
import type { VolunteerCredits } from '@tabgrid/protocol';

/**
 * - `stopped`: not started, or stopped (by the owner, or replaced by another connection)
 * - `connecting`: waiting for the handshake (or reconnecting)
 * - `loading`: connected, the model is loading; no tasks are taken
 * - `ready`: connected with the model loaded
 * - `refused`: will not work (handshake refused for good, model mismatch); see `error`
 */
export type ClientPhase = 'stopped' | 'connecting' | 'loading' | 'ready' | 'refused';

export interface VolunteerClientState {
  phase: ClientPhase;
  connected: boolean;
  /** Paused by the owner: the connection stays, no new tasks are taken. */
  paused: boolean;
  /** The server-issued id (private). Null until the first `hello`. */
  volunteerId: string | null;
  /** The public pseudonym the live view shows. */
  displayName: string | null;
  modelSha256: string | null;
  /** Where the verified model came from. */
  modelSource: string | null;
  /** Extra runner details (backend, threads...). */
  runtime: Record<string, unknown> | null;
  /** The runner's pool size (tasks at once). */
  slots: number;
  /** Leases held: queued, running or being reported. */
  held: number;
  /** Tasks in the runner right now. */
  running: number;
  assigned: number;
  /** Results the server acknowledged (accepted or duplicate). */
  completed: number;
  /** Tasks reported with `task:error` (or that failed locally). */
  failed: number;
  cancelled: number;
  /** Results acknowledged as duplicates (a retried report whose first ack was lost). */
  duplicates: number;
  /** `task:result` / `task:error` emits repeated after an ack timeout. */
  reportRetries: number;
  /** Work dropped because the connection was lost before it was reported. */
  dropped: number;
  lastInferenceMs: number | null;
  avgInferenceMs: number | null;
  /** Non-fatal notice (reconnecting, a rejected result...). */
  notice: string | null;
  /** Why the client refused to work (phase `refused`). */
  error: string | null;
  /** The wire code behind `error`, when the server sent one. */
  errorCode: string | null;
  /**
   * This volunteer's credits from the server's ledger (`volunteer:credits`, PROTOCOL.md rule C1);
   * null until the server sends them (servers without a ledger never do).
   */
  credits: VolunteerCredits | null;
}

export function initialState(slots: number): VolunteerClientState {
  return {
    phase: 'stopped',
    connected: false,
    paused: false,
    volunteerId: null,
    displayName: null,
    modelSha256: null,
    modelSource: null,
    runtime: null,
    slots,
    held: 0,
    running: 0,
    assigned: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    duplicates: 0,
    reportRetries: 0,
    dropped: 0,
    lastInferenceMs: null,
    avgInferenceMs: null,
    notice: null,
    error: null,
    errorCode: null,
    credits: null,
  };
}
