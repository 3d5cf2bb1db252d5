import type { Detection, TaskAssignment } from '@tabgrid/protocol';
import { agree, DEFAULT_AGREEMENT } from '../agreement';
import { makeCanaryImage, randomTransform, type CanaryImage, type CanaryTransform } from './canary-image';
import { RecentSources, type CanarySource } from './canary-sources';
import type { Referee } from '../referee';
import type { VerificationMetrics } from '../verification-metrics';

export type { CanarySource } from './canary-sources';

/** Canary parameters (PROTOCOL.md rule V12). */
export interface CanaryPolicy {
  /** Fraction of offers to volunteers not in quarantine that are canaries, when one is ready. */
  rate: number;
  /** Canaries kept ready at most. */
  poolSize: number;
  /** Distinct volunteers one canary is offered to before it is discarded. */
  maxUses: number;
  /**
   * A volunteer in quarantine that has had every ready canary gets a new one made at most this
   * often (ms), for all such volunteers together: the ready canary most used, then oldest, makes
   * room. Bounds what starving volunteers can spend of the referee.
   */
  refreshMs: number;
  /** A ready canary older than this (ms) is discarded, so that the pool follows current work. */
  maxAgeMs: number;
}

/**
 * A canary costs a referee inference to make and nothing to use: each is offered to up to 32
 * distinct volunteers (issue 18: 15 made for 30 uses at 4 uses each cost 2 ms of referee CPU per
 * task). More uses let more volunteers see the same image as a canary; `maxAgeMs` still retires it.
 */
export const DEFAULT_CANARIES: CanaryPolicy = {
  rate: 0.02,
  poolSize: 8,
  maxUses: 32,
  refreshMs: 1000,
  maxAgeMs: 5 * 60_000,
};

/**
 * The refresh interval that spends at most a tenth of the referee's runs per second on canaries
 * for volunteers in quarantine (1 s at the default 10 runs/s): the rest stays for settling real
 * tasks (V5) and checking `undecodable` claims (V10).
 */
export function canaryRefreshMs(refereeRunsPerSecond: number): number {
  return Math.ceil(10_000 / Math.max(1, refereeRunsPerSecond));
}

/**
 * What the desk needs of the referee (V5). With `runIdle` (the server's referee) canaries are made
 * only while the referee is idle, never in front of real work; without it (tests), with `run`.
 */
export type CanaryReferee = Pick<Referee, 'enabled' | 'run'> & Partial<Pick<Referee, 'runIdle' | 'idle'>>;

interface Canary {
  taskId: string;
  source: CanarySource;
  image: CanaryImage;
  answer: Detection[];
  /** Volunteers it was offered to. */
  usedBy: Set<string>;
  /** Volunteers offered its source task (live: the source's set): never offered this canary. */
  sourceSeenBy: ReadonlySet<string>;
  /** When its making began. */
  madeAt: number;
}

interface Held {
  canary: Canary;
  volunteerId: string;
  /** When it was offered (its renewals are capped from here). */
  takenAt: number;
  expiresAt: number;
}

export type CanaryVerdict = 'passed' | 'failed';

/**
 * Known-answer tasks (rule V12): transformed copies (mirror, crop, rescale) of real queued images,
 * answered by the referee, offered as ordinary tasks. A quarantined volunteer gets only these
 * (its shadow ban costs requesters nothing); others get one at `rate` as an extra check. They live
 * here, in memory: never in the store, a job, `/live` or the task counts; only in
 * `tabgrid_canaries_total{outcome}`.
 *
 * The pool refreshes itself: ready canaries age out (`maxAgeMs`), and a quarantined volunteer that
 * has had every ready one gets a new one made, at most one per `refreshMs` for all of them, from
 * a recently offered image; the ready canary most used (then oldest) makes room. Without that, a
 * pool of canaries it has seen and nobody else uses up would starve it for good.
 */
export class CanaryDesk {
  private readonly ready: Canary[] = [];
  private readonly held = new Map<string, Held>();
  /** Assignments already answered, by whom (a replay is acked `duplicate`, as for a real task). */
  private readonly answered = new Map<string, string>();
  /**
   * Canary leases that ended without a result (lapsed, refused, left), by assignment: a late
   * result is still judged, as a real task's late result is still taken (its lease ended too).
   * The latest 10,000.
   */
  private readonly ended = new Map<string, Held>();
  /** Held canaries whose job was deleted: volunteer and task id (a late result: `task_completed`). */
  private readonly cancelled = new Map<string, { volunteerId: string; taskId: string }>();
  private readonly sources: RecentSources;
  private making = 0;
  /** Jobs deleted while canaries were being made (those are dropped when made). */
  private readonly deleted = new Set<string>();
  /** When the last refresh for a starving volunteer began. */
  private lastRefresh = -Infinity;
  /** A starving volunteer waits for the next refresh turn. */
  private starving = false;
  private readyListener: (() => void) | undefined;

  constructor(
    private readonly referee: CanaryReferee | null,
    private readonly policy: CanaryPolicy,
    private readonly ids: { task: () => string; assignment: () => string },
    private readonly metrics?: VerificationMetrics,
    private readonly random: () => number = Math.random,
    private readonly transform: () => CanaryTransform = () => randomTransform(this.random),
  ) {
    this.sources = new RecentSources(policy.poolSize);
  }

  /** Canaries ready to offer. */
  get readyCount(): number {
    return this.ready.length;
  }

  /** Called whenever a canary becomes ready (the scheduler offers it: a volunteer may wait for it). */
  onReady(listener: () => void): void {
    this.readyListener = listener;
  }

  /**
   * A real task's image was just read for an offer: make a canary from it in the background when
   * the pool has room (its answer is a referee run, within the referee's budget).
   */
  observe(source: CanarySource, image: Uint8Array, now: number, volunteerId?: string): void {
    if (!this.referee?.enabled) return;
    const seenBy = this.sources.seen(source, image, volunteerId);
    this.expire(now);
    if (this.full || this.referee.idle?.() === false) return;
    this.sources.used(source, now);
    this.start(source, image, now, seenBy);
  }

  private get full(): boolean {
    return this.ready.length + this.making >= this.policy.poolSize;
  }

  /** `refresh`: made for a volunteer in quarantine that waits for it (see `refresh`). */
  private start(
    source: CanarySource,
    image: Uint8Array,
    now: number,
    seenBy: ReadonlySet<string>,
    refresh = false,
  ): void {
    this.making++;
    void this.make(source, image, now, seenBy).then((made) => {
      this.making--;
      if (this.making === 0) this.deleted.clear();
      if (made) this.readyListener?.();
      // Not made (the referee busy or under pressure, V5): the volunteer still waits, and nothing
      // else may wake it (alone, it holds no lease and no offer brings an image), so the next
      // refresh turn tries again (`refreshDue`).
      else if (refresh) this.starving = true;
    });
  }

  private async make(
    source: CanarySource,
    original: Uint8Array,
    now: number,
    sourceSeenBy: ReadonlySet<string>,
  ): Promise<boolean> {
    try {
      const image = await makeCanaryImage(original, source.mime, this.transform());
      const referee = this.referee;
      const run = referee?.runIdle
        ? referee.runIdle(image.bytes)
        : referee?.run(image.bytes, undefined, 'canary');
      const outcome = run ? await run : null;
      if (!outcome || outcome.kind !== 'detections') {
        this.metrics?.canaries.inc({ outcome: 'unmade' });
        return false;
      }
      this.metrics?.canaries.inc({ outcome: 'made' });
      if (this.deleted.has(source.jobId)) {
        this.metrics?.canaries.inc({ outcome: 'retired' });
        return false;
      }
      this.ready.push({
        taskId: this.ids.task(),
        source,
        image,
        answer: outcome.detections,
        usedBy: new Set(),
        sourceSeenBy,
        madeAt: now,
      });
      return true;
    } catch {
      this.metrics?.canaries.inc({ outcome: 'unmade' });
      return false;
    }
  }

  /** Ready canaries past `maxAgeMs` are discarded. */
  private expire(now: number): void {
    for (const c of this.ready.filter((c) => now - c.madeAt >= this.policy.maxAgeMs)) this.retire(c);
  }

  private retire(canary: Canary): void {
    this.ready.splice(this.ready.indexOf(canary), 1);
    this.metrics?.canaries.inc({ outcome: 'retired' });
  }

  /** Whether this volunteer's next offer should be a canary: always in quarantine, else at `rate`. */
  wanted(quarantined: boolean): boolean {
    return quarantined || (this.policy.rate > 0 && this.random() < this.policy.rate);
  }

  /**
   * Hands a ready canary this volunteer has not had as an assignment, or null when none is ready.
   * For a volunteer in quarantine (`quarantined`) that has had them all, a new one is made when
   * it is the refresh's turn (`refreshMs`); `onReady` says when it is there.
   */
  take(volunteerId: string, now: number, leaseMs: number, quarantined = false): TaskAssignment | null {
    this.expire(now);
    // Preferably not one made from a task this volunteer was offered: it would see one name with
    // two images. Only a preference: with few volunteers (and replicas) every source may have been
    // offered to everyone, and withholding canaries then would end them.
    const fresh = this.ready.filter((c) => !c.usedBy.has(volunteerId));
    const canary = fresh.find((c) => !c.sourceSeenBy.has(volunteerId)) ?? fresh[0];
    if (!canary) {
      if (quarantined) this.refresh(now);
      return null;
    }
    canary.usedBy.add(volunteerId);
    if (canary.usedBy.size >= this.policy.maxUses) this.ready.splice(this.ready.indexOf(canary), 1);
    const assignmentId = this.ids.assignment();
    this.held.set(assignmentId, { canary, volunteerId, takenAt: now, expiresAt: now + leaseMs });
    return {
      assignmentId,
      taskId: canary.taskId,
      jobId: canary.source.jobId,
      name: canary.source.name,
      width: canary.image.width,
      height: canary.image.height,
      mime: canary.image.mime,
      imageSha256: canary.image.sha256,
      image: canary.image.bytes,
      leaseMs,
    };
  }

  /** A quarantined volunteer has had every ready canary: make a new one if it is the turn. */
  private refresh(now: number): void {
    if (!this.referee?.enabled || this.policy.poolSize < 1) return;
    // One being made is new to everyone: it serves this volunteer (onReady), unless it fails.
    if (this.making > 0 || now - this.lastRefresh < this.policy.refreshMs) {
      this.starving = true;
      return;
    }
    const pick = this.sources.pick(now);
    if (!pick) return; // nothing offered yet: the next offer makes one (observe)
    this.lastRefresh = now;
    this.starving = false;
    if (this.full) {
      // Every ready canary was had by this volunteer: the one closest to its end makes room.
      const stalest = this.ready.reduce((a, b) =>
        b.usedBy.size > a.usedBy.size || (b.usedBy.size === a.usedBy.size && b.madeAt < a.madeAt) ? b : a,
      );
      this.retire(stalest);
    }
    this.start(pick.source, pick.image, now, pick.seenBy, true);
  }

  /**
   * Whether a volunteer in quarantine found no canary and its refresh turn has come (the scheduler
   * then offers again, which makes one). True once per wait.
   */
  refreshDue(now: number): boolean {
    if (!this.starving || now - this.lastRefresh < this.policy.refreshMs) return false;
    this.starving = false;
    return true;
  }

  /**
   * The job was deleted (T12): its ready canaries and images are dropped, and those being made are
   * dropped when made. Returns its held canaries, for the scheduler to cancel as a real task's.
   */
  forgetJob(jobId: string): { assignmentId: string; volunteerId: string }[] {
    for (const c of this.ready.filter((c) => c.source.jobId === jobId)) {
      this.ready.splice(this.ready.indexOf(c), 1);
    }
    this.sources.forgetJob(jobId);
    if (this.making > 0) this.deleted.add(jobId);
    for (const [id, h] of this.ended) {
      if (h.canary.source.jobId !== jobId) continue;
      this.ended.delete(id);
      this.cancelled.set(id, { volunteerId: h.volunteerId, taskId: h.canary.taskId });
    }
    const held = [...this.held].filter(([, h]) => h.canary.source.jobId === jobId);
    for (const [assignmentId, h] of held) {
      this.cancelled.set(assignmentId, { volunteerId: h.volunteerId, taskId: h.canary.taskId });
      if (this.cancelled.size > 10_000) this.cancelled.delete(this.cancelled.keys().next().value!);
    }
    return held.map(([assignmentId, h]) => ({ assignmentId, volunteerId: h.volunteerId }));
  }

  /** Whether this assignment is a canary (held or answered). */
  owns(assignmentId: string): boolean {
    return (
      this.held.has(assignmentId) ||
      this.ended.has(assignmentId) ||
      this.answered.has(assignmentId) ||
      this.cancelled.has(assignmentId)
    );
  }

  /**
   * The size of a held canary (for the impossible-result check), if this volunteer holds it;
   * `late`: or held it until its lease ended without a result (a late result is judged).
   */
  heldBy(assignmentId: string, volunteerId: string, late = false): { width: number; height: number } | null {
    const h = this.held.get(assignmentId) ?? (late ? this.ended.get(assignmentId) : undefined);
    return h && h.volunteerId === volunteerId
      ? { width: h.canary.image.width, height: h.canary.image.height }
      : null;
  }

  /** The task id of this volunteer's canary assignment whose job was deleted, if it is one. */
  cancelledFor(assignmentId: string, volunteerId: string): string | undefined {
    const c = this.cancelled.get(assignmentId);
    return c?.volunteerId === volunteerId ? c.taskId : undefined;
  }

  /** Who answered this canary assignment already, if anyone. */
  answeredBy(assignmentId: string): string | undefined {
    return this.answered.get(assignmentId);
  }

  /**
   * Heartbeat: the canary leases this volunteer holds among `ids` are renewed (returned), never
   * past their offer + `maxHoldMs` (as a real assignment's, `maxAssignmentMs`): heartbeats cannot
   * hold a canary forever.
   */
  renew(
    volunteerId: string,
    ids: readonly string[],
    now: number,
    leaseMs: number,
    maxHoldMs = Number.MAX_SAFE_INTEGER,
  ): string[] {
    const renewed: string[] = [];
    for (const id of ids) {
      const h = this.held.get(id);
      if (h && h.volunteerId === volunteerId) {
        h.expiresAt = Math.min(now + leaseMs, h.takenAt + maxHoldMs);
        renewed.push(id);
      }
    }
    return renewed;
  }

  /** A result for a held canary: whether it agrees with the referee's answer. Null if not held. */
  judge(assignmentId: string, volunteerId: string, detections: Detection[]): CanaryVerdict | null {
    const h = this.held.get(assignmentId) ?? this.ended.get(assignmentId);
    if (!h || h.volunteerId !== volunteerId) return null;
    this.held.delete(assignmentId);
    this.ended.delete(assignmentId);
    this.answered.set(assignmentId, volunteerId);
    if (this.answered.size > 10_000) this.answered.delete(this.answered.keys().next().value!);
    const verdict = agree(detections, h.canary.answer, DEFAULT_AGREEMENT) ? 'passed' : 'failed';
    this.metrics?.canaries.inc({ outcome: verdict });
    return verdict;
  }

  /** Ends a held canary without a result (reported failure, ack timeout, disconnect). */
  end(assignmentId: string): boolean {
    const h = this.held.get(assignmentId);
    if (!h) return false;
    this.held.delete(assignmentId);
    // Its job deleted (`cancelled`): a late result is refused as the job's tasks' are, not judged.
    if (this.cancelled.has(assignmentId)) return true;
    this.ended.set(assignmentId, h);
    if (this.ended.size > 10_000) this.ended.delete(this.ended.keys().next().value!);
    return true;
  }

  /** Every canary this volunteer holds ends (it disconnected); returns their ids. */
  endVolunteer(volunteerId: string): string[] {
    const ids = [...this.held].filter(([, h]) => h.volunteerId === volunteerId).map(([id]) => id);
    for (const id of ids) this.end(id);
    return ids;
  }

  /** Canary leases past their expiry end; returns them (the scheduler treats them as lapses). */
  lapse(now: number): { assignmentId: string; volunteerId: string }[] {
    const lapsed: { assignmentId: string; volunteerId: string }[] = [];
    for (const [assignmentId, h] of this.held) {
      if (h.expiresAt > now) continue;
      this.end(assignmentId);
      lapsed.push({ assignmentId, volunteerId: h.volunteerId });
      this.metrics?.canaries.inc({ outcome: 'lapsed' });
    }
    return lapsed;
  }
}
