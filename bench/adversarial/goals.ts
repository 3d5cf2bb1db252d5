/**
 * Issue 7's goals, read off an adversarial bench result (met / not met / not measured), and the
 * readable table `npm run bench` prints for the section.
 */
import type { AdversarialResult } from './section';

/** Same shape as the bench's GoalRow (bench/lib/bench.ts). */
interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean | null;
  how: string;
}

/**
 * Tasks past the trust ramp below which the steady-state overhead is not called a measurement
 * (at a 5 % spot-check rate, 200 tasks put its standard error near 0.015).
 */
const PAST_RAMP_MIN_TASKS = 200;

export function adversarialGoals(a: AdversarialResult | null): Goal[] {
  if (!a) return [];
  const f = a.figures;
  const turncoat = (rate: number) => f.liars.find((l) => l.kind === 'turncoat' && l.lieRate === rate);
  const t10 = turncoat(0.1);
  const lat = a.latency;
  const afterTurn = (l: typeof t10) =>
    !l
      ? 'not run'
      : l.afterTurn == null
        ? 'never trusted, never turned'
        : `${l.afterTurn.tasks} tasks, ${l.afterTurn.lies} lies${l.quarantined ? '' : ' (never caught)'}`;
  return [
    {
      goal: 'Constant liars: wrong results ever shown final',
      target: '0',
      measured: `${f.wrongEverShownFinal.constant}`,
      met: f.wrongEverShownFinal.constant === 0,
      how: 'every job watched (job:update + polls), each final result checked against the ground truth',
    },
    {
      goal: 'Wrong results final at the end (all liars, turncoats too)',
      target: '0',
      measured: `${f.wrongFinalAtEnd.count} (turncoat ${f.wrongFinalAtEnd.turncoat}, constant ${f.wrongFinalAtEnd.constant})`,
      met: f.wrongFinalAtEnd.count === 0,
      how: 'final API view of every task vs the onnxruntime-node reference, agreement.ts rule',
    },
    {
      goal: 'Constant liar quarantined within its first 3 results',
      target: 'p95 <= 3 tasks',
      measured: `p50 ${f.constantTasksBeforeQuarantine.p50}, p95 ${f.constantTasksBeforeQuarantine.p95} (n ${f.constantTasksBeforeQuarantine.n})`,
      met: f.constantTasksBeforeQuarantine.p95 === null ? null : f.constantTasksBeforeQuarantine.p95 <= 3,
      how: "distinct tasks a liar answered before the server's quarantined_at",
    },
    {
      goal: '10 % turncoat caught within 60 tasks (p95)',
      target: '<= 60 tasks after turning',
      measured: afterTurn(t10),
      met: t10?.afterTurn ? t10.quarantined && t10.afterTurn.tasks <= 60 : null,
      how: 'one turncoat per run: tasks it answered between turning (once trusted) and quarantine',
    },
    {
      goal: 'Overhead once honest volunteers are trusted',
      target: '<= 0.10 extra inferences per final task',
      measured: `${f.overhead.trusted.extraInferencesPerTask} (${f.overhead.trusted.finalTasks} tasks)`,
      met:
        f.overhead.trusted.extraInferencesPerTask === null
          ? null
          : f.overhead.trusted.extraInferencesPerTask <= 0.1,
      how: '(honest results + referee runs) / final tasks - 1, tasks first offered to a volunteer trusted at that offer',
    },
    {
      goal: 'Overhead once trusted, past the trust ramp (steady state)',
      target: `<= 0.10 extra inferences per final task (measured from ${PAST_RAMP_MIN_TASKS} tasks)`,
      measured:
        `${f.overhead.pastRamp.extraInferencesPerTask} (${f.overhead.pastRamp.finalTasks} tasks); ` +
        `during the ramp ${f.overhead.ramp.extraInferencesPerTask} (${f.overhead.ramp.finalTasks} tasks)`,
      met:
        f.overhead.pastRamp.extraInferencesPerTask === null ||
        f.overhead.pastRamp.finalTasks < PAST_RAMP_MIN_TASKS
          ? null
          : f.overhead.pastRamp.extraInferencesPerTask <= 0.1,
      how:
        'same, tasks first offered to a volunteer already seen past the ramp (streak >= trust streak + ramp checks); ' +
        'too few in the full run: TABGRID_BENCH_ADVERSARIAL=long',
    },
    {
      goal: 'Overhead during probation',
      target: '<= 2 extra inferences per task',
      measured: `${f.overhead.probation.extraInferencesPerTask} (${f.overhead.probation.finalTasks} tasks)`,
      met:
        f.overhead.probation.extraInferencesPerTask === null
          ? null
          : f.overhead.probation.extraInferencesPerTask <= 2,
      how: 'same, the other tasks',
    },
    {
      goal: 'Honest volunteers quarantined / results marked invalid',
      target: '0 / <= 0.1 %',
      measured: `${f.honest.quarantined} of ${f.honest.identities} / ${f.honest.invalidPercent} %`,
      met: f.honest.quarantined === 0 && f.honest.invalidPercent <= 0.1,
      how: 'volunteer_reputation of every non-liar identity (agents and the tab)',
    },
    {
      goal: "Trusted volunteer's single photo, verification on, p50",
      target: '<= 250 ms',
      measured: lat?.onP50Ms != null ? `${lat.onP50Ms} ms (off: ${lat.offP50Ms} ms)` : 'not run',
      met: lat?.onP50Ms != null ? lat.onP50Ms <= 250 : null,
      how: 'one warm tab alone, single-photo jobs, completedAt - submittedAt; median of the runs',
    },
  ];
}

export function renderAdversarial(a: AdversarialResult): string[] {
  const f = a.figures;
  const out = [
    `Adversarial: ${f.identities.honest} honest identities (${a.setup.honestAgents} agents + ${a.setup.browserTabs} tab), ` +
      `${f.identities.liars} liars (${Math.round(f.identities.liarShare * 100)} %), ${f.tasks.total} photos ` +
      `(${f.tasks.done} done, ${f.tasks.failed} failed), ${f.durationSeconds} s`,
    `wrong final at the end ${f.wrongFinalAtEnd.count}; wrong ever shown final ${f.wrongEverShownFinal.count} ` +
      `(constant liars ${f.wrongEverShownFinal.constant}, turncoats ${f.wrongEverShownFinal.turncoat}, revised ${f.wrongEverShownFinal.revised})`,
  ];
  for (const l of f.liars) {
    out.push(
      `  ${l.name.padEnd(22)} quarantined ${l.quarantined ? 'yes' : 'no '}  tasks before ${l.tasksBeforeQuarantine ?? '-'}  ` +
        `answered ${l.tasksAnswered}  ${JSON.stringify(l.answers)}${l.afterTurn ? `  after turning: ${l.afterTurn.tasks} tasks, ${l.afterTurn.lies} lies` : ''}`,
    );
  }
  const o = f.overhead;
  out.push(
    `extra inferences per final task: trusted ${o.trusted.extraInferencesPerTask} (n ${o.trusted.finalTasks}), ` +
      `probation ${o.probation.extraInferencesPerTask} (n ${o.probation.finalTasks}), all ${o.all.extraInferencesPerTask}; ` +
      `trusted during the ramp ${o.ramp.extraInferencesPerTask} (n ${o.ramp.finalTasks}), past the ramp ${o.pastRamp.extraInferencesPerTask} (n ${o.pastRamp.finalTasks})` +
      (f.canaries
        ? `; canaries per final task (every identity, quarantined liars too; the honest ones' are in the overhead): ` +
          `${f.canaries.passedPerTask} answered right, ${f.canaries.refereeRunsPerTask} referee runs`
        : ''),
    `past the ramp, final tasks by mark ${JSON.stringify(o.pastRamp.marks)}, ${o.pastRamp.liarHeld} held by a liar at some point; ` +
      `during the ramp ${JSON.stringify(o.ramp.marks)}, ${o.ramp.liarHeld} held by a liar; in the overhead, honest canaries ` +
      `(+ their referee runs) per final task: past the ramp ${o.pastRamp.honestCanariesPerTask} (+ ${o.pastRamp.canaryRefereeRunsPerTask}), ` +
      `during it ${o.ramp.honestCanariesPerTask} (+ ${o.ramp.canaryRefereeRunsPerTask})`,
    `honest: ${f.honest.trusted}/${f.honest.identities} trusted, ${f.honest.quarantined} quarantined, ${f.honest.invalidResults} invalid of ${f.honest.verifiedResults + f.honest.invalidResults} judged`,
    `takeover: ${f.takeover.attempts} attempts, ${JSON.stringify(f.takeover.refusals)}, accepted ${f.takeover.accepted}`,
  );
  if (a.latency) {
    out.push(
      `latency, single photo, warm tab: off p50 ${a.latency.offP50Ms} ms, on (trusted) p50 ${a.latency.onP50Ms} ms; runs: ` +
        a.latency.runs.map((r) => `${r.verification ? 'on' : 'off'} ${r.p50Ms}/${r.p95Ms}`).join(', '),
    );
  }
  return out;
}
