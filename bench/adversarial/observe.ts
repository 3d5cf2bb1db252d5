/**
 * What the suite watches while it runs, as a requester and as an operator would:
 * - every job over `/live` `job:watch` (each `job:update` push), so that every result ever shown
 *   as final to the requester is remembered, not only the last one;
 * - every identity's reputation (trusted since, quarantined since, canaries answered right), read from the server's
 *   database each second (the first time an identity was seen trusted is kept: quarantine
 *   clears `trusted_at`), and the first time it was seen past the trust ramp (rule V4: trusted, with
 *   its streak at least the trust streak plus the ramp's checks).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  type Detection,
  type JobView,
  type LiveClientToServer,
  type LiveServerToClient,
} from '@tabgrid/protocol';

export interface FinalSeen {
  at: number;
  detections: Detection[];
  verification: string | null;
}

export interface TaskHistory {
  taskId: string;
  jobId: string;
  name: string;
  submittedAt: number | null;
  /** Every distinct final result shown, in order. */
  finals: FinalSeen[];
  /** The view at the end. */
  last: JobView['tasks'][number] | null;
}

export class JobObserver {
  readonly tasks = new Map<string, TaskHistory>();
  readonly jobs = new Map<string, JobView>();
  private readonly socket: Socket<LiveServerToClient, LiveClientToServer>;

  constructor(server: string, apiKey: string) {
    this.socket = io(`${server}/live`, {
      auth: { protocolVersion: PROTOCOL_VERSION, apiKey },
      transports: ['websocket'],
      forceNew: true,
    });
    this.socket.on('job:update', (job) => this.record(job));
  }

  async watch(jobId: string): Promise<void> {
    const ack = await this.socket.timeout(15_000).emitWithAck('job:watch', { jobId });
    if (!ack.ok) throw new Error(`job:watch ${jobId}: ${ack.code} ${ack.message}`);
    this.record(ack.data);
  }

  /** Also fed by API polls (a push missed during a reconnect must not hide a final result). */
  record(job: JobView): void {
    const now = Date.now();
    this.jobs.set(job.id, job);
    for (const t of job.tasks) {
      let h = this.tasks.get(t.id);
      if (!h) {
        h = {
          taskId: t.id,
          jobId: job.id,
          name: t.name,
          submittedAt: t.timings.submittedAt,
          finals: [],
          last: t,
        };
        this.tasks.set(t.id, h);
      }
      h.last = t;
      if (t.status !== 'done') continue;
      const prev = h.finals.at(-1);
      if (prev && JSON.stringify(prev.detections) === JSON.stringify(t.detections)) continue;
      h.finals.push({ at: now, detections: t.detections, verification: t.verification });
    }
  }

  close(): void {
    this.socket.close();
  }
}

export interface ReputationSeen {
  id: string;
  streak: number;
  verified: number;
  invalid: number;
  firstTrustedAt: number | null;
  /**
   * When a poll first saw it trusted with its streak past the ramp (`rampEndsAtStreak`): up to one
   * poll late, so a task answered in that gap counts as during the ramp, never the other way.
   */
  pastRampAt: number | null;
  quarantinedAt: number | null;
  /** Canaries it answered right (its reputation's count, rule V12), in all. */
  canaries: number;
  /**
   * Its canary count when a poll first saw it trusted, and first saw it past the ramp (null until
   * then): canaries answered in the poll's gap count in the earlier phase, as tasks do.
   */
  canariesAtTrusted: number | null;
  canariesAtPastRamp: number | null;
}

interface RepRow {
  id: string;
  streak: number;
  verified: number;
  invalid: number;
  canaries: number;
  trusted_at: number | null;
  quarantined_at: number | null;
}

/** Polls `volunteer_reputation` (read-only; the server writes in WAL mode). */
export class ReputationObserver {
  readonly seen = new Map<string, ReputationSeen>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly dataDir: string,
    everyMs = 1000,
    /** The streak at which the trust ramp ends (trust streak + ramp checks; server defaults 10 + 40). */
    private readonly rampEndsAtStreak = 50,
  ) {
    this.timer = setInterval(() => this.poll(), everyMs);
  }

  poll(): void {
    let db: Database.Database | null = null;
    try {
      db = new Database(path.join(this.dataDir, 'tabgrid.sqlite'), { readonly: true, fileMustExist: true });
      const rows = db
        .prepare(
          `SELECT volunteer_id AS id, streak, verified, invalid, canaries, trusted_at, quarantined_at
           FROM volunteer_reputation`,
        )
        .all() as RepRow[];
      const now = Date.now();
      for (const r of rows) {
        const prev = this.seen.get(r.id);
        const pastRamp = r.trusted_at !== null && r.streak >= this.rampEndsAtStreak;
        this.seen.set(r.id, {
          id: r.id,
          streak: r.streak,
          verified: r.verified,
          invalid: r.invalid,
          firstTrustedAt: prev?.firstTrustedAt ?? r.trusted_at,
          pastRampAt: prev?.pastRampAt ?? (pastRamp ? now : null),
          quarantinedAt: r.quarantined_at,
          canaries: r.canaries,
          canariesAtTrusted: prev?.canariesAtTrusted ?? (r.trusted_at !== null ? r.canaries : null),
          canariesAtPastRamp: prev?.canariesAtPastRamp ?? (pastRamp ? r.canaries : null),
        });
      }
    } catch {
      // the database is not there yet, or busy: the next poll reads it
    } finally {
      db?.close();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }
}

/** Per task: results volunteers returned (assignments that ended with a result). */
export function resultsPerTask(dataDir: string): Map<string, { volunteerId: string; endedAt: number }[]> {
  const db = new Database(path.join(dataDir, 'tabgrid.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT task_id AS taskId, volunteer_id AS volunteerId, ended_at AS endedAt FROM assignments
         WHERE status = 'completed' OR inference_ms IS NOT NULL`,
      )
      .all() as { taskId: string; volunteerId: string; endedAt: number }[];
    const out = new Map<string, { volunteerId: string; endedAt: number }[]>();
    for (const r of rows) {
      const list = out.get(r.taskId) ?? [];
      list.push({ volunteerId: r.volunteerId, endedAt: r.endedAt });
      out.set(r.taskId, list);
    }
    return out;
  } finally {
    db.close();
  }
}

/** One assignment of a task, whatever became of it. */
export interface Holding {
  volunteerId: string;
  assignedAt: number;
  endedAt: number | null;
  /** It returned a result (kept, or superseded since). */
  returned: boolean;
}

/** Per task: every assignment of it, a lapsed or released one too. */
export function holdersPerTask(dataDir: string): Map<string, Holding[]> {
  const db = new Database(path.join(dataDir, 'tabgrid.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT task_id AS taskId, volunteer_id AS volunteerId, assigned_at AS assignedAt, ended_at AS endedAt,
           (status IN ('completed', 'superseded') OR inference_ms IS NOT NULL) AS returned FROM assignments`,
      )
      .all() as (Omit<Holding, 'returned'> & { taskId: string; returned: number })[];
    const out = new Map<string, Holding[]>();
    for (const { taskId, returned, ...h } of rows) {
      const list = out.get(taskId) ?? [];
      list.push({ ...h, returned: returned === 1 });
      out.set(taskId, list);
    }
    return out;
  } finally {
    db.close();
  }
}
