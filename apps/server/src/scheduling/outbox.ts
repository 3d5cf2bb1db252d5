import type { Ack, TaskAssignment } from '@tabgrid/protocol';
import type { AckTrace } from '../observability/ack-trace';
import type { VolunteerSession } from './sessions';

/** Longest stretch of socket writes for offers in one event-loop turn (ms). */
const SEND_SLICE_MS = 10;

/**
 * Offers on their way out. Sends are queued and written in slices of at most SEND_SLICE_MS per
 * event-loop turn: thousands of offers waiting on one image read would otherwise all be written
 * to their sockets in a single turn (seconds of writev with 10,000 volunteers), starving the
 * acks whose timeouts run.
 */
export class Outbox {
  private readonly queue: (() => void)[] = [];
  private draining = false;

  constructor(
    private readonly ackTimeoutMs: number,
    /** Called as an offer is written (the live figures count offers). */
    private readonly sending: (volunteerId: string) => void,
    /** The scheduler's clock: the send time handed to `onAccepted`. */
    private readonly now: () => number = Date.now,
    /** Measuring only: told each offer's send and ack times (`TABGRID_ACK_TRACE`). */
    private readonly trace?: AckTrace,
  ) {}

  /** Sends an offer (in the outbox's turn) and waits for its ack; `gone` if it ended meanwhile. */
  deliver(
    session: VolunteerSession,
    payload: TaskAssignment,
    onAccepted?: (sentAt: number) => void,
  ): Promise<Ack<{ accepted: true }> | 'timeout' | 'gone'> {
    return new Promise((resolve) =>
      this.send(() => {
        if (!session.held.has(payload.assignmentId) || session.socket.disconnected) return resolve('gone');
        this.sending(session.id);
        void this.emitOffer(session, payload, onAccepted).then(resolve);
      }),
    );
  }

  private send(send: () => void): void {
    this.queue.push(send);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    const deadline = performance.now() + SEND_SLICE_MS;
    let i = 0;
    while (i < this.queue.length && performance.now() < deadline) this.queue[i++]!();
    this.queue.splice(0, i);
    if (this.queue.length > 0) setImmediate(() => this.drain());
    else this.draining = false;
  }

  /**
   * Emits an offer and waits for its ack, at most `ackTimeoutMs` from now. The server keeps its
   * own timer rather than `socket.timeout(ms).emitWithAck` (PROTOCOL.md P6): when the timer
   * fires, the decision waits one `setImmediate`, so that acks already received but not yet read
   * (the poll phase runs before the check phase) still count: a busy server must not blame
   * volunteers for its own event-loop lag. An ack that arrives after the decision is ignored (the
   * lease was released and the volunteer told with `task:cancel`).
   */
  private emitOffer(
    session: VolunteerSession,
    payload: TaskAssignment,
    /** Runs synchronously in the ack's callback when the volunteer accepted, with the send time. */
    onAccepted?: (sentAt: number) => void,
  ): Promise<Ack<{ accepted: true }> | 'timeout'> {
    return new Promise((resolve) => {
      let settled = false;
      const sentAt = this.now();
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (settled) return;
            settled = true;
            resolve('timeout');
          }),
        this.ackTimeoutMs,
      );
      session.socket.emit('task:assign', payload, (answer) => {
        const ackAt = this.trace ? this.now() : 0;
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (answer?.ok === true) onAccepted?.(sentAt);
        this.trace?.({ assignmentId: payload.assignmentId, volunteerId: session.id, sentAt, ackAt });
        resolve(answer);
      });
    });
  }
}
