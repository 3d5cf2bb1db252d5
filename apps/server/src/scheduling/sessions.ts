import type { Socket } from 'socket.io';
import type { VolunteerClientToServer, VolunteerServerToClient } from '@tabgrid/protocol';

export type VolunteerSocket = Socket<VolunteerClientToServer, VolunteerServerToClient>;

/** One connected volunteer, as the dispatcher sees it. */
export class VolunteerSession {
  readonly held = new Set<string>();
  accepting = true;
  /**
   * Set when an offer went unacknowledged: no more offers until the volunteer
   * shows signs of life (any inbound packet, including Socket.IO's pong), so a
   * connection that died silently does not burn every queued task's attempts
   * before the ping timeout notices.
   */
  unresponsive = false;
  /** Public name and client address (apps/server/src/identity). */
  displayName = '';
  address = '';
  constructor(
    readonly id: string,
    readonly socket: VolunteerSocket,
    /** Most tasks its slots ask for (slots + prefetch, capped); `maxInFlight` may be lower (rule V11). */
    readonly wantedInFlight: number,
  ) {
    this.maxInFlight = wantedInFlight;
  }
  /** Most tasks this volunteer may hold at once now. */
  maxInFlight: number;
}

/**
 * The connected volunteers: membership, what each holds, the per-address cap (rule I6) and the
 * index of volunteers with room by load, which the dispatcher walks least loaded first.
 */
export class Sessions {
  private readonly byId = new Map<string, VolunteerSession>();
  /** Tasks held per client address (rule I6: at most `maxTasksPerIp`, 0 = no limit). */
  private readonly heldByAddress = new Map<string, number>();
  /** Accepting volunteers with room, indexed by how many tasks they hold (0 .. maxInFlightCap-1). */
  private readonly byLoad: Set<VolunteerSession>[];

  constructor(
    maxInFlightCap: number,
    private readonly maxTasksPerIp = 0,
  ) {
    this.byLoad = Array.from({ length: Math.max(1, maxInFlightCap) }, () => new Set());
  }

  get size(): number {
    return this.byId.size;
  }

  get(volunteerId: string): VolunteerSession | undefined {
    return this.byId.get(volunteerId);
  }

  has(volunteerId: string): boolean {
    return this.byId.has(volunteerId);
  }

  values(): IterableIterator<VolunteerSession> {
    return this.byId.values();
  }

  add(session: VolunteerSession): void {
    this.byId.set(session.id, session);
    this.reindex(session);
  }

  /** The connection closed: it leaves, and what it held no longer counts. False if not current. */
  remove(session: VolunteerSession): boolean {
    if (this.byId.get(session.id) !== session) return false;
    this.byId.delete(session.id);
    this.unindex(session);
    this.countHeld(session, -session.held.size);
    session.held.clear();
    return true;
  }

  /** The volunteer now holds this assignment. */
  hold(session: VolunteerSession, assignmentId: string): void {
    session.held.add(assignmentId);
    this.countHeld(session, 1);
    this.reindex(session);
  }

  /** The volunteer no longer holds this assignment; false if it did not (or is gone). */
  drop(volunteerId: string, assignmentId: string): boolean {
    const session = this.byId.get(volunteerId);
    if (!session?.held.delete(assignmentId)) return false;
    this.countHeld(session, -1);
    this.reindex(session);
    return true;
  }

  /**
   * The least loaded volunteer with room that may take more (`mayTakeMore`: the verification cap);
   * adds those it passes over for that cap to `skip` (one look per pump).
   */
  leastLoaded(
    skip: Set<VolunteerSession>,
    mayTakeMore: (s: VolunteerSession) => boolean,
  ): VolunteerSession | null {
    for (const level of this.byLoad) {
      for (const s of level) {
        if (skip.has(s) || !this.addressHasRoom(s)) continue;
        if (mayTakeMore(s)) return s;
        skip.add(s);
      }
    }
    return null;
  }

  /**
   * The least loaded volunteer with room other than `first` for whom `fits` holds, looking at
   * `limit` candidates at most (a replica's partner: bounded, so that a pass where no one fits
   * costs no walk over every connection).
   */
  partnerOf(
    first: VolunteerSession,
    fits: (s: VolunteerSession) => boolean,
    limit: number,
  ): VolunteerSession | null {
    let looked = 0;
    for (const level of this.byLoad) {
      for (const s of level) {
        if (s === first || !this.addressHasRoom(s)) continue;
        if (fits(s)) return s;
        if (++looked >= limit) return null;
      }
    }
    return null;
  }

  /** Puts the session where its load says (or nowhere: gone, not accepting, unresponsive, full). */
  reindex(session: VolunteerSession): void {
    this.unindex(session);
    if (this.byId.get(session.id) !== session || !session.accepting || session.unresponsive) return;
    if (session.held.size < session.maxInFlight) this.byLoad[session.held.size]?.add(session);
  }

  private unindex(session: VolunteerSession): void {
    for (const level of this.byLoad) level.delete(session);
  }

  private countHeld(session: VolunteerSession, delta: number): void {
    const n = (this.heldByAddress.get(session.address) ?? 0) + delta;
    if (n > 0) this.heldByAddress.set(session.address, n);
    else this.heldByAddress.delete(session.address);
  }

  private addressHasRoom(session: VolunteerSession): boolean {
    return this.maxTasksPerIp <= 0 || (this.heldByAddress.get(session.address) ?? 0) < this.maxTasksPerIp;
  }
}
