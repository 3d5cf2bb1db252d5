/**
 * The adversarial run (issue 7, section 5): honest agents (and, from the bench, browser tabs)
 * beside liars of every kind, all real processes against one real server with verification on.
 * Photos are uploaded in waves (jobs) until at least `tasks` are in, and, while a turncoat is
 * still at large, up to `maxTasks`. The run ends when every job is finished; the figures are
 * computed by `report.ts` from what was observed and the ground truth.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { JobCreatedSchema, JobViewSchema, type Detection } from '@tabgrid/protocol';
import type { LiarKind } from './kinds';
import {
  holdersPerTask,
  JobObserver,
  type Holding,
  ReputationObserver,
  resultsPerTask,
  type ReputationSeen,
  type TaskHistory,
} from './observe';
import { variedPhotos, type Photo } from './photos';
import { startHonestAgent, startLiar, stateId, type LiarProc, type Proc } from './processes';
import { groundTruth } from './truth';

export interface LiarSpec {
  kind: LiarKind;

  /** Turncoat: fraction of tasks it lies on once turned. */
  lieRate?: number;
}

export interface SuiteOptions {
  server: { url: string; dataDir: string };
  apiKey: string;
  /** Upload at least this many photos. */
  tasks: number;
  /** … and keep uploading, while a turncoat is not quarantined yet, up to this many. */
  maxTasks: number;
  /** Photos per job. */
  wave: number;
  honestAgents: number;
  liars: LiarSpec[];
  /** Other honest volunteers (e.g. browser tabs), started after the agents. */
  extraHonest?: () => Promise<{ stop(): Promise<void> }>;
  /** Where state files go. */
  workDir: string;
  /** Give up (throw) after this long. */
  timeoutMs: number;
  /** The streak at which the server's trust ramp ends (trust streak + ramp checks). @defaultValue 50 */
  rampEndsAtStreak?: number;
  log?: (line: string) => void;
}

export interface SuiteObservations {
  startedAt: number;
  endedAt: number;
  photos: Map<string, Photo>;
  truth: Map<string, Detection[]>;
  tasks: TaskHistory[];
  liars: {
    name: string;
    kind: LiarKind;
    spec: LiarSpec;
    volunteerId: string | null;
    events: LiarProc['events'];
  }[];
  /** Volunteer ids of the honest agents (the browser tabs are the other non-liar identities). */
  honestAgentIds: string[];
  reputations: ReputationSeen[];
  results: Map<string, { volunteerId: string; endedAt: number }[]>;
  /** Per task, every assignment of it (a lapsed or released one too). */
  holders?: Map<string, Holding[]>;
  /**
   * Canaries answered right and wrong (every identity's), and referee runs that made canaries,
   * from the server's /metrics (section.ts).
   */
  canaries?: { passed: number; failed?: number; refereeRuns: number } | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number, what: string, procs: Proc[] = []) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) {
      const tails = procs.map((p) => `--- ${p.name}\n${p.output().slice(-1500)}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${tails}`);
    }
    await sleep(200);
  }
}

export async function runSuite(o: SuiteOptions): Promise<SuiteObservations> {
  const log = o.log ?? (() => {});
  const { url, dataDir } = o.server;
  const auth = { authorization: `Bearer ${o.apiKey}` };
  mkdirSync(o.workDir, { recursive: true });
  const procs: Proc[] = [];
  const liars: LiarProc[] = [];
  let extra: { stop(): Promise<void> } | null = null;
  const jobs = new JobObserver(url, o.apiKey);
  // Polled twice a second: when a volunteer passes the ramp is known to within half a second.
  const reps = new ReputationObserver(dataDir, 500, o.rampEndsAtStreak);
  const startedAt = Date.now();
  const photos = new Map<string, Photo>();
  try {
    // Made before anyone connects: in a 39-agent run, making them between waves once stalled
    // the orchestrator (sharp never called back).
    const allPhotos = await variedPhotos(0, Math.max(o.tasks, o.maxTasks));
    const agentStates = Array.from({ length: o.honestAgents }, (_, i) =>
      path.join(o.workDir, `agent-${i}.json`),
    );
    const turnFile = (i: number) => path.join(o.workDir, `turn-${i}`);
    const startLiarProc = (spec: LiarSpec, i: number) => {
      const extraArgs = ['--seed', String(1000 + i)];
      if (spec.kind === 'turncoat') extraArgs.push('--turn-file', turnFile(i));
      if (spec.lieRate !== undefined) extraArgs.push('--lie-rate', String(spec.lieRate));
      if (spec.kind === 'takeover') extraArgs.push('--victim-state', agentStates[0]!);
      const liar = startLiar(
        `liar-${i}-${spec.kind}`,
        url,
        spec.kind,
        path.join(o.workDir, `liar-${i}.json`),
        extraArgs,
      );
      liars[i] = liar;
      procs.push(liar);
    };
    // A few processes at a time: dozens of cold starts at once on 2 cores time each other out.
    const BATCH = 6;
    for (let from = 0; from < agentStates.length; from += BATCH) {
      const batch = agentStates.slice(from, from + BATCH);
      const started = batch.map((state, j) => startHonestAgent(`agent-${from + j}`, url, state));
      procs.push(...started);
      await until(
        () => batch.every((s) => stateId(s) !== null),
        300_000,
        'honest agents to connect',
        started,
      );
    }
    // Then the liars (the takeover needs its victim's id).
    o.liars.forEach((spec, i) => spec.kind !== 'takeover' && startLiarProc(spec, i));
    log(`${o.honestAgents} honest agents connected`);
    o.liars.forEach((spec, i) => spec.kind === 'takeover' && startLiarProc(spec, i));
    if (o.extraHonest) extra = await o.extraHonest();
    await until(
      () => liars.every((l) => l.kind === 'takeover' || l.volunteerId() !== null),
      300_000,
      'liars to connect',
      liars,
    );
    log(`${liars.length} liars connected`);
    // A turncoat turns once the server trusts it (it cannot tell by itself).
    const turned = new Set<number>();
    const turnTrusted = () =>
      liars.forEach((l, i) => {
        const id = l.volunteerId();
        if (l.kind !== 'turncoat' || turned.has(i) || !id || reps.seen.get(id)?.firstTrustedAt == null)
          return;
        writeFileSync(turnFile(i), '');
        turned.add(i);
        log(`${l.name} is trusted: it turns now`);
      });

    // Upload in waves; keep about two waves unfinished so nobody idles.
    let submitted = 0;
    const deadline = startedAt + o.timeoutMs;
    const turncoats = () => liars.filter((l) => l.kind === 'turncoat');
    const atLarge = () =>
      turncoats().some((t) => {
        const id = t.volunteerId();
        return !id || reps.seen.get(id)?.quarantinedAt == null;
      });
    const unfinished = () =>
      [...jobs.jobs.values()].filter((j) => j.status !== 'done' && j.status !== 'failed');
    const poll = async () => {
      for (const job of unfinished()) {
        const res = await fetch(`${url}/api/jobs/${job.id}`, { headers: auth });
        if (res.ok) jobs.record(JobViewSchema.parse(await res.json()));
      }
    };
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the run did not finish in ${o.timeoutMs} ms`);
      const open = unfinished().reduce(
        (n, j) => n + j.tasks.filter((t) => t.status !== 'done' && t.status !== 'failed').length,
        0,
      );
      const more = submitted < o.tasks || (atLarge() && submitted < o.maxTasks);
      if (!more && open === 0) {
        // Backtracking may still reopen a job: look once more after a pause.
        await sleep(1500);
        await poll();
        if (unfinished().length === 0) break;
        continue;
      }
      if (more && open < o.wave * 2) {
        const n = Math.min(o.wave, Math.max(o.tasks, o.maxTasks) - submitted);
        const wave = allPhotos.slice(submitted, submitted + n);
        const form = new FormData();
        for (const p of wave) {
          photos.set(p.name, p);
          form.append('images', new Blob([p.bytes as Uint8Array<ArrayBuffer>], { type: p.mime }), p.name);
        }
        const res = await fetch(`${url}/api/jobs`, { method: 'POST', body: form, headers: auth });
        if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
        const created = JobCreatedSchema.parse(await res.json());
        await jobs.watch(created.id);
        submitted += n;
        log(`uploaded ${submitted} photos (job ${created.id}); turncoats at large: ${atLarge()}`);
      }
      await sleep(1000);
      await poll();
      turnTrusted();
    }
    const endedAt = Date.now();
    reps.stop();
    log('every job finished; computing the ground truth');
    for (const p of procs) await p.stop();
    await extra?.stop();
    extra = null;
    const truth = await groundTruth([...photos.values()]);
    const liarIds = new Set(liars.map((l) => l.volunteerId()));
    return {
      startedAt,
      endedAt,
      photos,
      truth,
      tasks: [...jobs.tasks.values()],
      liars: liars.map((l, i) => ({
        name: l.name,
        kind: l.kind,
        spec: o.liars[i]!,
        volunteerId: l.kind === 'takeover' ? null : l.volunteerId(),
        events: l.events,
      })),
      honestAgentIds: agentStates.map((s) => stateId(s)!).filter((id) => !liarIds.has(id)),
      reputations: [...reps.seen.values()],
      results: resultsPerTask(dataDir),
      holders: holdersPerTask(dataDir),
    };
  } finally {
    reps.stop();
    jobs.close();
    await Promise.all(procs.map((p) => p.stop()));
    await extra?.stop();
  }
}
