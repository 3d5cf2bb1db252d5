import { LRUCache } from 'lru-cache';
import { networkOf } from './network';

/** The loss rule's parameters (PROTOCOL.md rule T13). */
export interface LossPolicy {
  /**
   * Networks count as one (/24, /48); false (`TABGRID_DISTINCT_NETWORKS=0`): each identity is its
   * own network, as for replicas (rule V4).
   */
  distinctNetworks: boolean;
  /** Networks that lost a task before the referee runs it itself (env TABGRID_REFEREE_AFTER_LOSSES). */
  refereeAfter: number;
  /** Tasks with losses remembered (the least recently lost forgotten first). @defaultValue 100_000 */
  maxTasks?: number;
  /** Volunteers whose network is remembered after they left. @defaultValue 100_000 */
  maxVolunteers?: number;
}

/**
 * Which networks lost each task (issue 17 A, after BOINC's one result per host per workunit): a
 * lease a volunteer lost (it left, never acked, let the lease lapse, refused the offer, reported a
 * failure that does not count) spends its network's one attempt on that task, and the task is not
 * offered to that network again. After `refereeAfter` networks lost it the referee runs it.
 * Nothing here fails a task. In memory, bounded (`maxTasks`, `maxVolunteers`); a task that
 * finishes is forgotten. With several gateways (Redis) each keeps its own (a task stays cached
 * where it was claimed while it runs).
 */
export class LossLedger {
  private readonly lost: LRUCache<string, Set<string>>;
  /** A volunteer's network, kept after it left (a disconnect ends its leases after its session). */
  private readonly networks: LRUCache<string, string>;

  constructor(private readonly policy: LossPolicy) {
    this.lost = new LRUCache({ max: policy.maxTasks ?? 100_000 });
    this.networks = new LRUCache({ max: policy.maxVolunteers ?? 100_000 });
  }

  /** The network this volunteer counts as (its identity without distinct networks). */
  networkOf(volunteerId: string, address: string): string {
    return this.policy.distinctNetworks && address ? networkOf(address) : `id:${volunteerId}`;
  }

  /** A volunteer connected from `address`. */
  seen(volunteerId: string, address: string): void {
    this.networks.set(volunteerId, this.networkOf(volunteerId, address));
  }

  /**
   * This volunteer lost the task: its network's attempt is spent. Returns how many networks have
   * lost the task, and whether the referee should run it now (exactly once, at `refereeAfter`).
   */
  lose(taskId: string, volunteerId: string): { networks: number; referee: boolean } {
    const network = this.networks.get(volunteerId) ?? `id:${volunteerId}`;
    let set = this.lost.get(taskId);
    if (!set) this.lost.set(taskId, (set = new Set()));
    const before = set.size;
    set.add(network);
    const { refereeAfter } = this.policy;
    return { networks: set.size, referee: before < refereeAfter && set.size >= refereeAfter };
  }

  /** Whether this volunteer's network lost the task (it is not offered to it again). */
  keepsFrom(taskId: string, volunteerId: string, address: string): boolean {
    const set = this.lost.peek(taskId);
    return set !== undefined && set.has(this.networkOf(volunteerId, address));
  }

  /** Networks that lost this task. */
  losses(taskId: string): number {
    return this.lost.peek(taskId)?.size ?? 0;
  }

  /** The task finished (done, failed, cancelled). */
  forget(taskId: string): void {
    this.lost.delete(taskId);
  }

  /** Tasks with losses remembered. */
  get size(): number {
    return this.lost.size;
  }
}
