/**
 * Where the scheduler reads the time for leases, deadlines and timestamps.
 * Tests pass a manual clock to drive lease expiry explicitly instead of
 * sleeping; production uses the system clock.
 */
export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
