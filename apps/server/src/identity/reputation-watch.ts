import type { ReputationStore } from '../verification/reputation-store';

/** What the identity room learns from verification's reputation writes. */
export interface ReputationEvents {
  /** The volunteer's first verified result: its identity is kept for good (rule I8). */
  firstVerified(volunteerId: string): void;
  /** The volunteer was quarantined: its network is remembered (rule I10). */
  quarantined(volunteerId: string): void;
}

/**
 * Watches a reputation store's writes, at the boundary between identities and verification,
 * so neither the verifier nor the scheduler needs to know about identity lifetimes or network
 * penalties. The store is changed in place (its `put` is wrapped), so everything holding it sees
 * the same object.
 */
export function watchReputations<S extends Pick<ReputationStore, 'get' | 'put'>>(
  store: S,
  events: ReputationEvents,
): S {
  const put = store.put.bind(store);
  store.put = (volunteerId, next) => {
    const before = store.get(volunteerId);
    put(volunteerId, next);
    if (before.verified === 0 && next.verified > 0) events.firstVerified(volunteerId);
    if (before.quarantinedAt === null && next.quarantinedAt !== null) events.quarantined(volunteerId);
  };
  return store;
}
