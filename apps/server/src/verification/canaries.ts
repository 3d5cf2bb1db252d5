import type { Detection, TaskAssignment } from '@tabgrid/protocol';
import { agree, DEFAULT_AGREEMENT } from './agreement';
import { makeCanaryImage, randomTransform, type CanaryImage, type CanaryTransform } from './canary-image';
import type { Referee } from './referee';
import type { VerificationMetrics } from './verification-metrics';

/** Canary parameters (PROTOCOL.md rule V12). */
export interface CanaryPolicy {
  /** Fraction of offers to volunteers not in quarantine that are canaries, when one is ready. */
  rate: number;
  /** Canaries kept ready at most. */
  poolSize: number;
  /** Distinct volunteers one canary is offered to before it is discarded. */
  maxUses: number;
}

export const DEFAULT_CANARIES: CanaryPolicy = { rate: 0.02, poolSize: 8, maxUses: 4 };

/** The real task a canary was made from (what the volunteer sees of it: job and name). */
export interface CanarySource {
  jobId: string;
  name: string;
  mime: string;
}

interface Canary {
  taskId: string;
  source: CanarySource;
  image: CanaryImage;
  answer: Detection[];
  /** Volunteers it was offered to. */
  usedBy: Set<string>;
}

interface Held {
  canary: Canary;
  volunteerId: string;
  expiresAt: number;
}

export type CanaryVerdict = 'passed' | 'failed';

/**
 * Known-answer tasks (rule V12): transformed copies (mirror, crop, rescale) of real queued images,
 * answered by the referee, offered as ordinary tasks. A quarantined volunteer gets only these
 * (its shadow ban costs requesters nothing); others get one at `rate` as an extra check. They live
 * here, in memory: never in the store, a job, `/live` or the task counts; only in
 * `tabgrid_canaries_total{outcome}`.
 */
export class CanaryDesk {
  private readonly ready: Canary[] = [];
  private readonly held = new Map<string, Held>();
  /** Assignments already answered, by whom (a replay is acked `duplicate`, as for a real task). */
  private readonly answered = new Map<string, string>();
  private making = 0;

  constructor(
    private readonly referee: Referee | null,
    private readonly policy: CanaryPolicy,
    private readonly ids: { task: () => string; assignment: () => string },
    private readonly metrics?: VerificationMetrics,
    private readonly random: () => number = Math.random,
    private readonly transform: () => CanaryTransform = () => randomTransform(this.random),
  ) {}

  /** Canaries ready to offer. */
  get readyCount(): number {
    return this.ready.length;
  }

  /**
   * A real task's image was just read for an offer: make a canary from it in the background when
   * the pool has room (its answer is a referee run, within the referee's budget).
   */
  observe(source: CanarySource, image: Uint8Array): void {
    if (!this.referee?.enabled || this.ready.length + this.making >= this.policy.poolSize) return;
    this.making++;
    void this.make(source, image).finally(() => this.making--);
  }

  private async make(source: CanarySource, original: Uint8Array): Promise<void> {
    try {
      const image = await makeCanaryImage(original, source.mime, this.transform());
      const run = this.referee?.run(image.bytes);
      const outcome = run ? await run : null;
      if (!outcome || outcome.kind !== 'detections') {
        this.metrics?.canaries.inc({ outcome: 'unmade' });
        return;
      }
      this.ready.push({
        taskId: this.ids.task(),
        source,
        image,
        answer: outcome.detections,
        usedBy: new Set(),
      });
      this.metrics?.canaries.inc({ outcome: 'made' });
    } catch {
      this.metrics?.canaries.inc({ outcome: 'unmade' });
    }
  }

  /** Whether this volunteer's next offer should be a canary: always in quarantine, else at `rate`. */
  wanted(quarantined: boolean): boolean {
    return quarantined || (this.policy.rate > 0 && this.random() < this.policy.rate);
  }

  /** Hands a ready canary this volunteer has not had as an assignment, or null when none is ready. */
  take(volunteerId: string, now: number, leaseMs: number): TaskAssignment | null {
    const canary = this.ready.find((c) => !c.usedBy.has(volunteerId));
    if (!canary) return null;
    canary.usedBy.add(volunteerId);
    if (canary.usedBy.size >= this.policy.maxUses) this.ready.splice(this.ready.indexOf(canary), 1);
    const assignmentId = this.ids.assignment();
    this.held.set(assignmentId, { canary, volunteerId, expiresAt: now + leaseMs });
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

  /** Whether this assignment is a canary (held or answered). */
  owns(assignmentId: string): boolean {
    return this.held.has(assignmentId) || this.answered.has(assignmentId);
  }

  /** The size of a held canary (for the impossible-result check), if this volunteer holds it. */
  heldBy(assignmentId: string, volunteerId: string): { width: number; height: number } | null {
    const h = this.held.get(assignmentId);
    return h && h.volunteerId === volunteerId
      ? { width: h.canary.image.width, height: h.canary.image.height }
      : null;
  }

  /** Who answered this canary assignment already, if anyone. */
  answeredBy(assignmentId: string): string | undefined {
    return this.answered.get(assignmentId);
  }

  /** Heartbeat: the canary leases this volunteer holds among `ids` are renewed (returned). */
  renew(volunteerId: string, ids: readonly string[], now: number, leaseMs: number): string[] {
    const renewed: string[] = [];
    for (const id of ids) {
      const h = this.held.get(id);
      if (h && h.volunteerId === volunteerId) {
        h.expiresAt = now + leaseMs;
        renewed.push(id);
      }
    }
    return renewed;
  }

  /** A result for a held canary: whether it agrees with the referee's answer. Null if not held. */
  judge(assignmentId: string, volunteerId: string, detections: Detection[]): CanaryVerdict | null {
    const h = this.held.get(assignmentId);
    if (!h || h.volunteerId !== volunteerId) return null;
    this.end(assignmentId);
    this.answered.set(assignmentId, volunteerId);
    if (this.answered.size > 10_000) this.answered.delete(this.answered.keys().next().value!);
    const verdict = agree(detections, h.canary.answer, DEFAULT_AGREEMENT) ? 'passed' : 'failed';
    this.metrics?.canaries.inc({ outcome: verdict });
    return verdict;
  }

  /** Ends a held canary without a result (reported failure, ack timeout, disconnect). */
  end(assignmentId: string): boolean {
    return this.held.delete(assignmentId);
  }

  /** Every canary this volunteer holds ends (it disconnected); returns their ids. */
  endVolunteer(volunteerId: string): string[] {
    const ids = [...this.held].filter(([, h]) => h.volunteerId === volunteerId).map(([id]) => id);
    for (const id of ids) this.held.delete(id);
    return ids;
  }

  /** Canary leases past their expiry end; returns them (the scheduler treats them as lapses). */
  lapse(now: number): { assignmentId: string; volunteerId: string }[] {
    const lapsed: { assignmentId: string; volunteerId: string }[] = [];
    for (const [assignmentId, h] of this.held) {
      if (h.expiresAt > now) continue;
      this.held.delete(assignmentId);
      lapsed.push({ assignmentId, volunteerId: h.volunteerId });
      this.metrics?.canaries.inc({ outcome: 'lapsed' });
    }
    return lapsed;
  }
}
