/** The real task a canary was made from (what the volunteer sees of it: job and name). */
export interface CanarySource {
  jobId: string;
  name: string;
  mime: string;
}

/** Volunteers remembered per source as having been offered it (the latest ones). */
const SEEN_BY = 32;

interface Entry {
  source: CanarySource;
  image: Uint8Array;
  /**
   * Volunteers offered the real task (kept across offers, shared with the canaries made from it):
   * a canary bearing its name is not offered to them, who would see one name with two images.
   */
  seenBy: Set<string>;
  /** When a canary was last made from it (-Infinity: never). */
  usedAt: number;
}

/**
 * The real images offered most recently (at most `size`, one per job and name), kept so that a
 * canary can be made when a volunteer in quarantine needs one and no real offer brings an image
 * (rule V12). Each holds a reference to an image the server has in memory for its offer anyway.
 */
export class RecentSources {
  /** In offer order, oldest first. */
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly size: number) {}

  /** A real task's image was offered (to `volunteerId`); returns who was offered it. */
  seen(source: CanarySource, image: Uint8Array, volunteerId?: string): ReadonlySet<string> {
    const key = keyOf(source);
    const prev = this.entries.get(key);
    const usedAt = prev?.usedAt ?? -Infinity;
    const seenBy = prev?.seenBy ?? new Set<string>();
    if (volunteerId !== undefined) {
      seenBy.delete(volunteerId);
      seenBy.add(volunteerId);
      if (seenBy.size > SEEN_BY) seenBy.delete(seenBy.values().next().value!);
    }
    this.entries.delete(key);
    this.entries.set(key, { source, image, seenBy, usedAt });
    while (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
    return seenBy;
  }

  /** A canary is being made from this source. */
  used(source: CanarySource, now: number): void {
    const entry = this.entries.get(keyOf(source));
    if (entry) entry.usedAt = now;
  }

  /**
   * The source made from least recently (one never made from first; among equals the one offered
   * last), marked used; null when nothing was offered. Round robin, so that the names a volunteer
   * sees vary as they would in real work.
   */
  pick(now: number): { source: CanarySource; image: Uint8Array; seenBy: ReadonlySet<string> } | null {
    let best: Entry | null = null;
    for (const entry of this.entries.values()) if (!best || entry.usedAt <= best.usedAt) best = entry;
    if (!best) return null;
    best.usedAt = now;
    return { source: best.source, image: best.image, seenBy: best.seenBy };
  }

  /** The job was deleted: its images are forgotten. */
  forgetJob(jobId: string): void {
    for (const [key, entry] of this.entries) if (entry.source.jobId === jobId) this.entries.delete(key);
  }
}

const keyOf = (s: CanarySource) => `${s.jobId}\u0000${s.name}`;
