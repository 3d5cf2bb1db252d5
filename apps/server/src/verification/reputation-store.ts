import type { Reputation } from './reputation';

/**
 * Each volunteer identity's reputation, read and written synchronously by the verifier (it runs
 * in the scheduler's hot path) from memory. SQLite (`sqlite-reputation-store.ts`) writes
 * through; Redis (`redis-reputation-store.ts`) loads an identity's record when it connects
 * (`warm`) and writes behind. Contract: apps/server/test/contracts/reputation.ts.
 */
export interface ReputationStore {
  get(volunteerId: string): Reputation;
  put(volunteerId: string, r: Reputation): void;
  /** Loads this volunteer's record into memory (the handshake awaits it before any work). */
  warm(volunteerId: string): Promise<void>;
  /** Resolves once every `put` so far is stored. */
  flush(): Promise<void>;
}
