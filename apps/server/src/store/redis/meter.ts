/**
 * Counts what the scheduling store asks of Redis: round trips (one per awaited reply or
 * pipeline) and the commands they carried. `bench`/tests divide by tasks for the per-task cost.
 */
export class RedisMeter {
  roundTrips = 0;
  commands = 0;
  /** Writes the write-once script refused: the task was already final (a duplicate result, or a stale state). */
  duplicatesDropped = 0;

  roundTrip(commands = 1): void {
    this.roundTrips++;
    this.commands += commands;
  }

  snapshot(): { roundTrips: number; commands: number; duplicatesDropped: number } {
    return {
      roundTrips: this.roundTrips,
      commands: this.commands,
      duplicatesDropped: this.duplicatesDropped,
    };
  }
}
