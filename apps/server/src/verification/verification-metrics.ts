import { Counter, Gauge, type Registry } from 'prom-client';
import type { RefereeObserver, RefereePurpose, RefereeRefusal } from './referee';
import type { RefereeMiss } from './referee-retry';

/** What verification counts on /metrics (registered in the server's registry). */
export class VerificationMetrics implements RefereeObserver {
  /** Referee inferences started, by purpose: `settle`, `canary`, `undecodable`. */
  readonly refereeInferences: Counter<'purpose'>;
  /** Referee runs refused, by purpose and reason: `rate` (runs per second), `busy` (workers), `pressure` (idle runs). */
  readonly refereeRefusals: Counter<'purpose' | 'reason'>;
  /** The referee's queue: `running` (posted to its workers), `waiting` (tasks waiting for its turn). */
  readonly refereeQueue: Gauge<'state'>;
  private queueSources: { running: () => number; waiting: () => number } | null = null;
  /** Referee runs by outcome: `settled`, `failed`, `over_budget`, `gave_up` (after its failures). */
  readonly refereeRuns: Counter<'outcome'>;
  /** `undecodable` reports checked by the referee: `false` (it decoded: the reporter is caught), `confirmed`, `unchecked`. */
  readonly undecodableClaims: Counter<'verdict'>;
  /** Acked leases that lapsed (the volunteer's limit was halved, rule V11). */
  readonly stalls: Counter;
  /** Canaries (rule V12): `made`, `unmade`, `passed`, `failed`, `lapsed`, `retired` (aged out or made room). */
  readonly canaries: Counter<'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.refereeInferences = new Counter({
      name: 'tabgrid_referee_inferences_total',
      help: 'Referee inferences started, by purpose: settle (a waiting task), canary (a known answer, made while idle), undecodable (a claim checked).',
      labelNames: ['purpose'],
      registers,
    });
    this.refereeRefusals = new Counter({
      name: 'tabgrid_referee_refusals_total',
      help: 'Referee runs refused, by purpose and reason: rate (over its runs per second), busy (every worker busy), pressure (a canary while real work was refused).',
      labelNames: ['purpose', 'reason'],
      registers,
    });
    const sources = () => this.queueSources;
    this.refereeQueue = new Gauge({
      name: 'tabgrid_referee_queue',
      help: "The referee's queue: running (runs posted to its workers, not answered yet), waiting (tasks whose results wait for a replica or the referee's turn).",
      labelNames: ['state'],
      registers,
      collect() {
        const q = sources();
        if (!q) return;
        this.set({ state: 'running' }, q.running());
        this.set({ state: 'waiting' }, q.waiting());
      },
    });
    this.refereeRuns = new Counter({
      name: 'tabgrid_referee_runs_total',
      help: 'Referee runs on waiting tasks by outcome: settled, failed (retried with backoff), over_budget, gave_up.',
      labelNames: ['outcome'],
      registers,
    });
    this.undecodableClaims = new Counter({
      name: 'tabgrid_undecodable_claims_total',
      help: "Volunteers' undecodable reports checked by the referee: false (it decoded the image), confirmed, unchecked (no referee run).",
      labelNames: ['verdict'],
      registers,
    });
    this.stalls = new Counter({
      name: 'tabgrid_volunteer_stalls_total',
      help: 'Acked leases that lapsed without a result; each halves the volunteer task limit until it answers again.',
      registers,
    });
    this.canaries = new Counter({
      name: 'tabgrid_canaries_total',
      help: 'Known-answer tasks: made, unmade (referee busy or failed), passed, failed (the volunteer is quarantined), lapsed, retired (aged out, or made room for a new one).',
      labelNames: ['outcome'],
      registers,
    });
  }

  started(purpose: RefereePurpose): void {
    this.refereeInferences.inc({ purpose });
  }

  refused(purpose: RefereePurpose, reason: RefereeRefusal): void {
    this.refereeRefusals.inc({ purpose, reason });
  }

  /** Where `tabgrid_referee_queue` reads the referee's queue at each scrape. */
  bindQueue(sources: { running: () => number; waiting: () => number }): void {
    this.queueSources = sources;
  }

  refereeMiss(miss: RefereeMiss | 'gave_up' | 'settled'): void {
    this.refereeRuns.inc({ outcome: miss });
  }
}
