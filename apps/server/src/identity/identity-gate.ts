/**
 * What a new volunteer identity costs (PROTOCOL.md rules I8-I10, docs/SECURITY.md "Identity
 * farming"): at most `perHour` new identities per client network per hour, at most `maxPending`
 * issued per gateway within the identity lifetime (the identity table's bound, beside those that
 * did verified work), and a memory of networks whose identities were quarantined or stalled: a
 * quarantined network gets a quarter of the quota and its new identities start on a longer
 * probation; a stalling network's new identities start with its stall halvings (rule V11).
 * The quota and the networks' marks are the edge memory's (`EdgeMemory`): this process's on
 * SQLite, shared by every gateway on Redis. The table bound is kept per gateway.
 */
import { TabgridError } from '@tabgrid/protocol';
import type { EdgeMemory } from '../edges/edge-memory';

export interface IdentityGateOptions {
  /** New identities per network per hour; 0 = no limit. */
  perHour: number;
  /** Identities issued within `lifetimeMs` before new ones are refused; 0 = no bound. */
  maxPending: number;
  /** How long an identity without verified work lives (the window of `maxPending`). */
  lifetimeMs: number;
  /** The network of a client address (/24, /48, or the address itself). */
  networkOf: (address: string) => string;
  /** How long a quarantine is held against its network. @defaultValue 24 h */
  penaltyMs?: number;
  /** How long a network's stall halvings are held against it (StallPolicy's memory). @defaultValue 6 h */
  stallMemoryMs?: number;
}

const HOUR_MS = 3_600_000;
/** Volunteers whose network is remembered at most; the oldest are forgotten first. */
const MAX_TRACKED = 100_000;

/** A Map that forgets its oldest entry past `max` entries (insertion order). */
class Bounded<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.max) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}

export class IdentityGate {
  /** Issue times within the lifetime, oldest first (the bound). */
  private readonly issued: number[] = [];
  /** volunteer id -> the network it last connected from. */
  private readonly networks = new Bounded<string, string>(MAX_TRACKED);

  constructor(
    private readonly options: IdentityGateOptions,
    private readonly memory: EdgeMemory,
  ) {}

  /**
   * Counts one new identity for `address`, or throws `rate_limited` when its network used its
   * quota this hour or the gateway its bound.
   */
  async admit(address: string, now: number): Promise<void> {
    const { perHour, maxPending, lifetimeMs } = this.options;
    this.bound(now);
    if (perHour > 0) {
      const network = this.options.networkOf(address);
      // Counted before it is compared, so gateways admitting at once cannot both take the last.
      const [mark, window] = await Promise.all([
        this.memory.mark(`quarantine:${network}`, now),
        this.memory.count(`identities:${network}`, HOUR_MS, now),
      ]);
      const quota = mark > 0 ? Math.max(1, Math.floor(perHour / 4)) : perHour;
      if (window.count > quota) {
        const minutes = Math.max(1, Math.ceil((window.endsAt - now) / 60_000));
        throw new TabgridError(
          'rate_limited',
          `at most ${quota} new volunteer identities per hour from one network; resume yours (send volunteerId and token) or retry in ${minutes} min`,
          429,
        );
      }
    }
    this.bound(now);
    if (maxPending > 0 && lifetimeMs > 0) this.issued.push(now);
  }

  /** Throws when this gateway issued `maxPending` identities within their lifetime. */
  private bound(now: number): void {
    const { maxPending, lifetimeMs } = this.options;
    while (this.issued.length > 0 && this.issued[0]! <= now - lifetimeMs) this.issued.shift();
    if (maxPending > 0 && this.issued.length >= maxPending) {
      throw new TabgridError(
        'rate_limited',
        'the server is issuing no new volunteer identities right now; retry later or resume yours',
        429,
      );
    }
  }

  /** Remembers the network a volunteer connects from (for `quarantined` and `stalled`). */
  seen(volunteerId: string, address: string): void {
    this.networks.set(volunteerId, this.options.networkOf(address));
  }

  /** One of this volunteer's network's identities was quarantined (or did something as bad). */
  async quarantined(volunteerId: string, now: number): Promise<void> {
    const network = this.networks.get(volunteerId);
    if (network === undefined) return;
    await this.memory.raise(`quarantine:${network}`, 1, this.options.penaltyMs ?? 24 * HOUR_MS, now);
  }

  /** Whether identities from this address's network start stricter now (rule I10). */
  async startsStricter(address: string, now: number): Promise<boolean> {
    return (await this.memory.mark(`quarantine:${this.options.networkOf(address)}`, now)) > 0;
  }

  /**
   * One of this volunteer's network's identities let a lease lapse and has `halvings` stall
   * halvings in force (rule V11): its network's new identities start with as many.
   */
  async stalled(volunteerId: string, halvings: number, now: number): Promise<void> {
    const network = this.networks.get(volunteerId);
    if (network === undefined || halvings <= 0) return;
    await this.memory.raise(`stalls:${network}`, halvings, this.options.stallMemoryMs ?? 6 * HOUR_MS, now);
  }

  /** The stall halvings a new identity from this address's network starts with (rule V11). */
  stallsOf(address: string, now: number): Promise<number> {
    return this.memory.mark(`stalls:${this.options.networkOf(address)}`, now);
  }
}
