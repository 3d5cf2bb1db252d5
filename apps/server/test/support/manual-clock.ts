import type { Clock } from '../../src/clock';

/**
 * A clock that moves only when told: lease and deadline tests advance it past
 * an expiry and run the check themselves, instead of sleeping and hoping the
 * machine kept up.
 */
export class ManualClock implements Clock {
  constructor(private t = Date.now()) {}

  now(): number {
    return this.t;
  }

  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }
}
