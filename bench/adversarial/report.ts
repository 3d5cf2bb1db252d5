/**
 * The adversarial run's figures (issue 7, "Report" and "Goals"), computed from what the suite
 * observed: every result ever shown final (job watch), each identity's reputation over time,
 * the liars' own logs of what they sent, results per task (the server's assignments), and the
 * ground truth. Pure: nothing here talks to the server.
 */
import { percentile } from '../lib/stats';
import { CONSTANT_KINDS, type LiarKind } from './kinds';
import type { ReputationSeen } from './observe';
import type { SuiteObservations } from './suite';
import { isWrong } from './truth';

export interface Spread {
  n: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

const spread = (values: number[]): Spread => ({
  n: values.length,
  p50: values.length ? percentile(values, 50) : null,
  p95: values.length ? percentile(values, 95) : null,
  max: values.length ? Math.max(...values) : null,
});

const r3 = (v: number) => Math.round(v * 1000) / 1000;

export interface LiarFigures {
  name: string;
  kind: LiarKind;
  /** Turncoats: the fraction of tasks it lies on once turned. */
  lieRate: number | null;
  volunteerId: string | null;
  quarantined: boolean;
  /** Distinct tasks it answered (result or failure report) before it was quarantined; null if never. */
  tasksBeforeQuarantine: number | null;
  /** Distinct tasks it answered in all. */
  tasksAnswered: number;
  lies: number;
  /** The server's answers to what it sent, by answer. */
  answers: Record<string, number>;
  /** Turncoats: tasks answered after it turned and before it was quarantined, and lies meanwhile. */
  afterTurn?: { tasks: number; lies: number; trustedWhenTurned: boolean } | null;
}

export interface OverheadFigures {
  finalTasks: number;
  /**
   * (honest results + referee runs + honest canary answers + their canaries' referee runs) /
   * final tasks - 1.
   */
  extraInferencesPerTask: number | null;
  honestResultsPerTask: number | null;
  refereeRunsPerTask: number | null;
  /** Canaries honest volunteers answered right in this phase (their reputations' counts). */
  honestCanariesPerTask: number | null;
  /**
   * Their share of the referee runs that made canaries: each answer counts canary referee runs /
   * all canary answers (every identity's), the mean over answers of 1 / its canary's uses (at
   * most 32); runs for canaries never used count too. 0 when the server's /metrics was not read.
   */
  canaryRefereeRunsPerTask: number | null;
  /** Liars' answers per final task (not inferences: they never ran the model). */
  liarAnswersPerTask: number | null;
  /** Final tasks by how their final result was verified (`trusted`, `spot-checked`, `refereed`…). */
  marks: Record<string, number>;
  /** Final tasks of which a liar held an assignment (answered or not: a staller holds its replica). */
  liarHeld: number;
}

export interface AdversarialFigures {
  durationSeconds: number;
  tasks: { total: number; done: number; failed: number; failedCodes: Record<string, number> };
  identities: { honest: number; liars: number; liarShare: number };
  wrongFinalAtEnd: { count: number; constant: number; turncoat: number; other: number; examples: string[] };
  wrongEverShownFinal: { count: number; revised: number; constant: number; turncoat: number; other: number };
  liars: LiarFigures[];
  /** Distinct tasks answered before quarantine, over constant liars that answered anything. */
  constantTasksBeforeQuarantine: Spread;
  byKind: Partial<Record<LiarKind, Spread & { liars: number; quarantined: number }>>;
  takeover: { attempts: number; refusals: Record<string, number>; accepted: number };
  /**
   * `trusted` splits into `ramp` (its first honest result came from a volunteer trusted but still
   * in the trust ramp, rule V4) and `pastRamp` (the steady state the "overhead once trusted" goal
   * is about). Honest volunteers' canary answers, and their share of the referee runs that made
   * the canaries, count in the phase their volunteer was in (as polled: see `ReputationSeen`).
   */
  overhead: {
    all: OverheadFigures;
    probation: OverheadFigures;
    trusted: OverheadFigures;
    ramp: OverheadFigures;
    pastRamp: OverheadFigures;
  };
  /**
   * Canaries over the whole run, every identity's (quarantined liars' too), per final task (null
   * when the server's /metrics was not read). The honest volunteers' are in `overhead`.
   */
  canaries: { passedPerTask: number; refereeRunsPerTask: number } | null;
  honest: {
    identities: number;
    trusted: number;
    quarantined: number;
    verifiedResults: number;
    invalidResults: number;
    invalidPercent: number;
  };
}

const ANSWERED = new Set(['accepted', 'reported', 'impossible_result', 'not_accepted']);

export function computeFigures(o: SuiteObservations): AdversarialFigures {
  const liarIds = new Set(o.liars.map((l) => l.volunteerId).filter((id): id is string => id !== null));
  const repOf = new Map(o.reputations.map((r) => [r.id, r]));
  const honestReps = o.reputations.filter((r) => !liarIds.has(r.id));
  const honestIds = new Set([...honestReps.map((r) => r.id), ...o.honestAgentIds]);

  // Which liars lied on which task (to say whose wrong result was shown).
  const liedOn = new Map<string, Set<LiarKind>>();
  for (const l of o.liars) {
    for (const e of l.events) {
      if (e.event !== 'sent' || !e.lie || !ANSWERED.has(e.answer)) continue;
      const set = liedOn.get(e.taskId) ?? new Set();
      set.add(l.kind);
      liedOn.set(e.taskId, set);
    }
  }
  const culprit = (taskId: string) => {
    const kinds = liedOn.get(taskId);
    if (kinds?.has('turncoat')) return 'turncoat' as const;
    return kinds && kinds.size > 0 ? ('constant' as const) : ('other' as const);
  };

  const wrongEnd = { count: 0, constant: 0, turncoat: 0, other: 0, examples: [] as string[] };
  const wrongShown = { count: 0, revised: 0, constant: 0, turncoat: 0, other: 0 };
  const failedCodes: Record<string, number> = {};
  let done = 0;
  let failed = 0;
  for (const t of o.tasks) {
    const last = t.last;
    if (last?.status === 'done') done++;
    if (last?.status === 'failed') {
      failed++;
      const code = last.error?.code ?? 'unknown';
      failedCodes[code] = (failedCodes[code] ?? 0) + 1;
    }
    if (last?.status === 'done' && isWrong(o.truth, t.name, last.detections)) {
      wrongEnd.count++;
      wrongEnd[culprit(t.taskId)]++;
      if (wrongEnd.examples.length < 10) wrongEnd.examples.push(`${t.name} (${last.verification})`);
    }
    const shownWrong = t.finals.filter((f) => isWrong(o.truth, t.name, f.detections));
    if (shownWrong.length > 0) {
      wrongShown.count++;
      wrongShown[culprit(t.taskId)]++;
      if (!(last?.status === 'done' && isWrong(o.truth, t.name, last.detections))) wrongShown.revised++;
    }
  }

  const liars: LiarFigures[] = o.liars.map((l) => {
    const rep = l.volunteerId ? repOf.get(l.volunteerId) : undefined;
    const q = rep?.quarantinedAt ?? null;
    const answers: Record<string, number> = {};
    const answered = new Map<string, number>(); // taskId -> first answer time
    let lies = 0;
    let turnedAt: number | null = null;
    for (const e of l.events) {
      if (e.event === 'turned') turnedAt = e.at;
      if (e.event !== 'sent') continue;
      answers[e.answer] = (answers[e.answer] ?? 0) + 1;
      if (!ANSWERED.has(e.answer)) continue;
      if (e.lie) lies++;
      if (!answered.has(e.taskId)) answered.set(e.taskId, e.at);
    }
    const times = [...answered.values()];
    // A result that quarantined its sender at once is acked just after the quarantine: count >= 1.
    const before = q === null ? null : Math.max(1, times.filter((at) => at < q).length);
    let afterTurn: LiarFigures['afterTurn'] = undefined;
    if (l.kind === 'turncoat') {
      if (turnedAt === null) afterTurn = null;
      else {
        const end = q ?? Number.POSITIVE_INFINITY;
        const sent = l.events.filter(
          (e) => e.event === 'sent' && ANSWERED.has(e.answer) && e.at >= turnedAt! && e.at < end,
        );
        afterTurn = {
          tasks: Math.max(
            q === null ? 0 : 1,
            new Set(sent.map((e) => (e.event === 'sent' ? e.taskId : ''))).size,
          ),
          lies: sent.filter((e) => e.event === 'sent' && e.lie).length,
          trustedWhenTurned: rep?.firstTrustedAt != null && rep.firstTrustedAt <= turnedAt,
        };
      }
    }
    return {
      name: l.name,
      kind: l.kind,
      lieRate: l.spec.lieRate ?? null,
      volunteerId: l.volunteerId,
      quarantined: q !== null,
      tasksBeforeQuarantine: before,
      tasksAnswered: answered.size,
      lies,
      answers,
      ...(afterTurn !== undefined ? { afterTurn } : {}),
    };
  });

  const byKind: AdversarialFigures['byKind'] = {};
  for (const kind of new Set(liars.map((l) => l.kind))) {
    const of = liars.filter((l) => l.kind === kind);
    byKind[kind] = {
      liars: of.length,
      quarantined: of.filter((l) => l.quarantined).length,
      ...spread(of.flatMap((l) => (l.tasksBeforeQuarantine === null ? [] : [l.tasksBeforeQuarantine]))),
    };
  }
  const constant = liars.filter((l) => CONSTANT_KINDS.includes(l.kind) && l.tasksAnswered > 0);

  const takeoverEvents = o.liars.filter((l) => l.kind === 'takeover').flatMap((l) => l.events);
  const refusals: Record<string, number> = {};
  for (const e of takeoverEvents) if (e.event === 'refused') refusals[e.code] = (refusals[e.code] ?? 0) + 1;

  // Canaries honest volunteers answered right, by the phase they were in (as polled), and the
  // referee runs each answer stands for (its canary's run over its uses, on average).
  const honestCanaries = { probation: 0, ramp: 0, pastRamp: 0 };
  for (const r of honestReps) {
    const trusted = r.canariesAtTrusted ?? r.canaries;
    const pastRamp = r.canariesAtPastRamp ?? r.canaries;
    honestCanaries.probation += trusted;
    honestCanaries.ramp += pastRamp - trusted;
    honestCanaries.pastRamp += r.canaries - pastRamp;
  }
  const canaryAnswers = o.canaries ? o.canaries.passed + (o.canaries.failed ?? 0) : 0;
  const refereePerCanary = o.canaries && canaryAnswers > 0 ? o.canaries.refereeRuns / canaryAnswers : 0;

  // Overhead: per final task, the honest results (real inferences) and referee runs it took, and
  // the phase's honest canary answers with their referee runs.
  const overhead = (filter: (taskId: string) => boolean, canaries: number): OverheadFigures => {
    let finalTasks = 0;
    let honest = 0;
    let referee = 0;
    let liarAnswers = 0;
    let liarHeld = 0;
    const marks: Record<string, number> = {};
    for (const t of o.tasks) {
      if (t.last?.status !== 'done' || !filter(t.taskId)) continue;
      finalTasks++;
      const mark = t.last.verification ?? 'none';
      marks[mark] = (marks[mark] ?? 0) + 1;
      if ((o.holders?.get(t.taskId) ?? []).some((h) => liarIds.has(h.volunteerId))) liarHeld++;
      const results = o.results.get(t.taskId) ?? [];
      honest += results.filter((r) => honestIds.has(r.volunteerId)).length;
      liarAnswers += results.filter((r) => liarIds.has(r.volunteerId)).length;
      if (t.last.verification === 'refereed') referee++;
    }
    const per = (v: number) => (finalTasks ? r3(v / finalTasks) : null);
    const canaryReferee = canaries * refereePerCanary;
    return {
      finalTasks,
      extraInferencesPerTask: finalTasks
        ? r3((honest + referee + canaries + canaryReferee) / finalTasks - 1)
        : null,
      honestResultsPerTask: per(honest),
      refereeRunsPerTask: per(referee),
      honestCanariesPerTask: per(canaries),
      canaryRefereeRunsPerTask: per(canaryReferee),
      liarAnswersPerTask: per(liarAnswers),
      marks,
      liarHeld,
    };
  };
  // A task counts as "after trust" when the volunteer it was first offered to was already trusted
  // at that offer, and as "past the ramp" when it was already seen past the trust ramp. The first
  // offer is the earliest assignment still held when the first one that returned a result was
  // made: a paired replica (rule V3) may answer before the offer it checks, and a staller's
  // offer never answers, but the treatment (and so the cost) was decided for that first offer.
  // A task first offered to a liar counts as probation. Without assignments (older observations):
  // the volunteer of the first honest result, at that result.
  const owner = (taskId: string): { volunteerId: string; at: number } | null => {
    const list = o.holders?.get(taskId);
    if (!list) {
      const first = (o.results.get(taskId) ?? [])
        .filter((r) => honestIds.has(r.volunteerId))
        .sort((a, b) => a.endedAt - b.endedAt)[0];
      return first ? { volunteerId: first.volunteerId, at: first.endedAt } : null;
    }
    const answered = list.filter((h) => h.returned).sort((a, b) => a.assignedAt - b.assignedAt)[0];
    if (!answered) return null;
    const first = list
      .filter((h) => h.assignedAt <= answered.assignedAt && (h.endedAt ?? Infinity) > answered.assignedAt)
      .sort((a, b) => a.assignedAt - b.assignedAt)[0]!;
    return { volunteerId: first.volunteerId, at: first.assignedAt };
  };
  const standingAt = (taskId: string, since: (r: ReputationSeen) => number | null) => {
    const first = owner(taskId);
    const rep = first && honestIds.has(first.volunteerId) ? repOf.get(first.volunteerId) : undefined;
    const at = rep ? since(rep) : null;
    return first !== null && at !== null && at <= first.at;
  };
  const trustedTask = (taskId: string) => standingAt(taskId, (r) => r.firstTrustedAt);
  const pastRampTask = (taskId: string) => standingAt(taskId, (r) => r.pastRampAt);
  const finalTasks = o.tasks.filter((t) => t.last?.status === 'done').length;

  const verifiedResults = honestReps.reduce((n, r) => n + r.verified, 0);
  const invalidResults = honestReps.reduce((n, r) => n + r.invalid, 0);
  return {
    durationSeconds: Math.round((o.endedAt - o.startedAt) / 1000),
    tasks: { total: o.tasks.length, done, failed, failedCodes },
    identities: {
      honest: honestIds.size,
      liars: liarIds.size,
      liarShare: r3(liarIds.size / Math.max(1, honestIds.size + liarIds.size)),
    },
    wrongFinalAtEnd: wrongEnd,
    wrongEverShownFinal: wrongShown,
    liars,
    constantTasksBeforeQuarantine: spread(
      constant.flatMap((l) => (l.tasksBeforeQuarantine === null ? [] : [l.tasksBeforeQuarantine])),
    ),
    byKind,
    takeover: {
      attempts: takeoverEvents.filter((e) => e.event === 'refused' || e.event === 'identity').length,
      refusals,
      accepted: takeoverEvents.filter((e) => e.event === 'identity').length,
    },
    overhead: {
      all: overhead(() => true, honestCanaries.probation + honestCanaries.ramp + honestCanaries.pastRamp),
      probation: overhead((id) => !trustedTask(id), honestCanaries.probation),
      trusted: overhead(trustedTask, honestCanaries.ramp + honestCanaries.pastRamp),
      ramp: overhead((id) => trustedTask(id) && !pastRampTask(id), honestCanaries.ramp),
      pastRamp: overhead(pastRampTask, honestCanaries.pastRamp),
    },
    canaries:
      o.canaries && finalTasks > 0
        ? {
            passedPerTask: r3(o.canaries.passed / finalTasks),
            refereeRunsPerTask: r3(o.canaries.refereeRuns / finalTasks),
          }
        : null,
    honest: {
      identities: honestIds.size,
      trusted: honestReps.filter((r) => r.firstTrustedAt !== null).length,
      quarantined: honestReps.filter((r) => r.quarantinedAt !== null).length,
      verifiedResults,
      invalidResults,
      invalidPercent: r3((100 * invalidResults) / Math.max(1, verifiedResults + invalidResults)),
    },
  };
}
