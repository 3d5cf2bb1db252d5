/**
 * What a new volunteer identity costs (PROTOCOL.md rules I8-I10, docs/SECURITY.md "Identity
 * farming"): at most `perHour` new identities per client network per hour, at most `maxPending`
 * issued per gateway within the identity lifetime (the identity table's bound, beside those that
 * did verified work), and a memory of networks whose identities were quarantined: such a network
 * gets a quarter of the quota, and its new identities start on a longer probation.
 * Kept in memory per gateway.
 */
import { TabgridError } from '@tabgrid/protocol';

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
}

const HOUR_MS = 3_600_000;
/** Networks (and volunteers) remembered at most; the oldest are forgotten first. */
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
  /** network -> identities issued in the hour that started at `since`. */
  private readonly hourly = new Bounded<string, { count: number; since: number }>(MAX_TRACKED);
  /** Issue times within the lifetime, oldest first (the bound). */
  private readonly issued: number[] = [];
  /** network -> penalized until (ms). */
  private readonly penalties = new Bounded<string, number>(MAX_TRACKED);
  /** volunteer id -> the network it last connected from. */
  private readonly networks = new Bounded<string, string>(MAX_TRACKED);

  constructor(private readonly options: IdentityGateOptions) {}

  /**
   * Counts one new identity for `address`, or throws `rate_limited` when its network used its
   * quota this hour or the gateway its bound.
   */
  admit(address: string, now: number): void {
    const { perHour, maxPending, lifetimeMs } = this.options;
    const network = this.options.networkOf(address);
    while (this.issued.length > 0 && this.issued[0]! <= now - lifetimeMs) this.issued.shift();
    if (maxPending > 0 && this.issued.length >= maxPending) {
      throw new TabgridError(
        'rate_limited',
        'the server is issuing no new volunteer identities right now; retry later or resume yours',
        429,
      );
    }
    let window = this.hourly.get(network);
    if (!window || now - window.since >= HOUR_MS) window = { count: 0, since: now };
    const quota = this.penalized(network, now) ? Math.max(1, Math.floor(perHour / 4)) : perHour;
    if (perHour > 0 && window.count >= quota) {
      const minutes = Math.max(1, Math.ceil((window.since + HOUR_MS - now) / 60_000));
      throw new TabgridError(
        'rate_limited',
        `at most ${quota} new volunteer identities per hour from one network; resume yours (send volunteerId and token) or retry in ${minutes} min`,
        429,
      );
    }
    window.count++;
    this.hourly.set(network, window);
    if (lifetimeMs > 0) this.issued.push(now);
  }

  /** Remembers the network a volunteer connects from (for `quarantined`). */
  seen(volunteerId: string, address: string): void {
    this.networks.set(volunteerId, this.options.networkOf(address));
  }

  /** One of this volunteer's network's identities was quarantined (or did something as bad). */
  quarantined(volunteerId: string, now: number): void {
    const network = this.networks.get(volunteerId);
    if (network !== undefined) this.penalties.set(network, now + (this.options.penaltyMs ?? 24 * HOUR_MS));
  }

  /** Whether identities from this address's network start stricter now. */
  startsStricter(address: string, now: number): boolean {
    return this.penalized(this.options.networkOf(address), now);
  }

  private penalized(network: string, now: number): boolean {
    const until = this.penalties.get(network);
    if (until === undefined) return false;
    if (until > now) return true;
    this.penalties.delete(network);
    return false;
  }
}
