import { LRUCache } from 'lru-cache';
import type { EdgeMemory } from '../edges/edge-memory';
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

/** Where the losses are shared with other gateways (Redis: `EdgeMemory.shared`), and how. */
export interface SharedLosses {
  memory: EdgeMemory;
  /** How long a task's lost networks are kept there after its latest loss (the task deadline). */
  rememberMs: number;
  /** How long this gateway trusts its copy of a task's losses before reading them again. @defaultValue 2000 */
  refreshMs?: number;
  now: () => number;
  /** Whether the task was never offered anywhere (no network can have lost it: nothing to read). */
  neverOffered: (taskId: string) => boolean;
  /** Losses read from the shared memory arrived: tasks kept back meanwhile may be offered. */
  loaded: () => void;
  /** The shared count reached `refereeAfter` with a loss recorded here. */
  refereeDue: (taskId: string) => void;
  report: (err: unknown, taskId: string) => void;
}

const key = (taskId: string) => `lost:${taskId}`;

/**
 * Which networks lost each task (issue 17 A, after BOINC's one result per host per workunit): a
 * lease a volunteer lost (it left, never acked, let the lease lapse, refused the offer, reported a
 * failure that does not count) spends its network's one attempt on that task, and the task is not
 * offered to that network again. After `refereeAfter` networks lost it the referee runs it.
 * Nothing here fails a task. In memory, bounded (`maxTasks`, `maxVolunteers`); a task that
 * finishes is forgotten.
 *
 * With several gateways (Redis, `shared`) each loss is also added to the task's set in the edge
 * memory (expiring `rememberMs` after its latest loss, dropped when the task finishes here), and
 * the copy here is read again before the task is offered once it is older than `refreshMs`: a task
 * that moves to another gateway is not offered to a network that lost it anywhere, and the
 * referee is called when every gateway's losses together reach `refereeAfter`. While its losses
 * are being read a task is offered to no one (a turn, one round trip for all such tasks).
 */
export class LossLedger {
  private readonly lost: LRUCache<string, Set<string>>;
  /** A volunteer's network, kept after it left (a disconnect ends its leases after its session). */
  private readonly networks: LRUCache<string, string>;
  /** Tasks whose copy here is current (shared only): read or written within `refreshMs`. */
  private readonly known: LRUCache<string, true> | null = null;
  /** Tasks whose losses are being read (shared only). */
  private readonly reading = new Set<string>();

  constructor(
    private readonly policy: LossPolicy,
    private readonly shared?: SharedLosses,
  ) {
    const maxTasks = policy.maxTasks ?? 100_000;
    this.lost = new LRUCache({ max: maxTasks });
    this.networks = new LRUCache({ max: policy.maxVolunteers ?? 100_000 });
    if (shared?.memory.shared) this.known = new LRUCache({ max: maxTasks, ttl: shared.refreshMs ?? 2000 });
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
   * lost the task (known here), and whether the referee should run it now (exactly once, at
   * `refereeAfter`; with shared losses `refereeDue` may say so later, once the count is read).
   */
  lose(taskId: string, volunteerId: string): { networks: number; referee: boolean } {
    const network = this.networks.get(volunteerId) ?? `id:${volunteerId}`;
    let set = this.lost.get(taskId);
    if (!set) this.lost.set(taskId, (set = new Set()));
    const before = set.size;
    set.add(network);
    const { refereeAfter } = this.policy;
    const referee = before < refereeAfter && set.size >= refereeAfter;
    if (this.known) this.share(taskId, network, referee);
    return { networks: set.size, referee };
  }

  /** Adds the loss to the task's shared set; the reply brings every gateway's losses. */
  private share(taskId: string, network: string, refereeHere: boolean): void {
    const s = this.shared!;
    s.memory.add(key(taskId), network, s.rememberMs, s.now()).then(
      ({ added, members }) => {
        this.merge(taskId, members);
        // The add that made the count `refereeAfter` on any gateway: exactly one (MULTI).
        if (added && members.length === this.policy.refereeAfter && !refereeHere) s.refereeDue(taskId);
      },
      (err: unknown) => s.report(err, taskId),
    );
  }

  private merge(taskId: string, members: readonly string[]): void {
    this.known?.set(taskId, true);
    if (members.length === 0) return;
    let set = this.lost.get(taskId);
    if (!set) this.lost.set(taskId, (set = new Set()));
    for (const m of members) set.add(m);
  }

  /**
   * Whether this volunteer's network lost the task (it is not offered to it again). With shared
   * losses, a task whose copy here is not current is kept from everyone while it is read.
   */
  keepsFrom(taskId: string, volunteerId: string, address: string): boolean {
    if (this.known && !this.known.has(taskId)) {
      if (!this.shared!.neverOffered(taskId)) return this.read(taskId);
      this.known.set(taskId, true);
    }
    const set = this.lost.peek(taskId);
    return set !== undefined && set.has(this.networkOf(volunteerId, address));
  }

  /** Reads the task's shared losses; true (kept back) until they are here. */
  private read(taskId: string): true {
    if (this.reading.has(taskId)) return true;
    this.reading.add(taskId);
    const s = this.shared!;
    s.memory.members(key(taskId), s.now()).then(
      (members) => {
        this.reading.delete(taskId);
        this.merge(taskId, members);
        s.loaded();
      },
      (err: unknown) => {
        // Unread, the task is offered on what this gateway knows (rather than held back).
        this.reading.delete(taskId);
        this.known?.set(taskId, true);
        s.report(err, taskId);
        s.loaded();
      },
    );
    return true;
  }

  /** Networks that lost this task (known here). */
  losses(taskId: string): number {
    return this.lost.peek(taskId)?.size ?? 0;
  }

  /** The task finished (done, failed, cancelled). */
  forget(taskId: string): void {
    const hadLosses = this.lost.delete(taskId);
    if (!this.known) return;
    this.known.delete(taskId);
    // Only a task with losses has a shared set (others' losses unknown here expire with it).
    const s = this.shared!;
    if (hadLosses) s.memory.drop(key(taskId)).catch((err: unknown) => s.report(err, taskId));
  }

  /** Tasks with losses remembered. */
  get size(): number {
    return this.lost.size;
  }
}
