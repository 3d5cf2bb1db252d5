import { Counter, type Registry } from 'prom-client';
import type { RefereeMiss } from './referee-retry';

/** What verification counts on /metrics (registered in the server's registry). */
export class VerificationMetrics {
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

  refereeMiss(miss: RefereeMiss | 'gave_up' | 'settled'): void {
    this.refereeRuns.inc({ outcome: miss });
  }
}
