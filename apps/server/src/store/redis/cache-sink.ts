import type { TrustedRef } from './keys';
import type { StoredTask } from './stored-task';

/** How a change of a cached task must be written to Redis (see `WriteBehind`). */
export interface PutOptions {
  /** The task is final: once stored, this stream entry is acknowledged. */
  ackEntry?: string;
  /** Overwrite even a final state (backtracking reopens a done task). */
  force?: boolean;
  /** The task leaves this gateway: a new stream entry is added for it (and `ackEntry` acked). */
  enqueue?: boolean;
  /**
   * The task publishes these volunteers' results (one, or both of a pair): index each under its
   * volunteer (backtracking, rule V7).
   */
  trusted?: (TrustedRef & { volunteerId: string })[];
}

/** Where the cache sends every change (write-behind to Redis). */
export interface CacheSink {
  put(task: StoredTask, options?: PutOptions): void;
}
