/**
 * Volunteer identities: the server-issued id, the SHA-256 of its secret token, and the public
 * display name, kept by an `IdentityBackend` (SQLite or Redis). Nothing else in the server
 * reads or writes them.
 */
import { LRUCache } from 'lru-cache';
import { randomDisplayName } from './display-names';
import type { IdentityBackend } from './identity-backend';
import { hashToken, issueToken, issueVolunteerId, tokenMatches } from './tokens';

export interface Identity {
  volunteerId: string;
  displayName: string;
}

/** Display names are unique; a collision draws again, this many times, before adding digits. */
const NAME_ATTEMPTS = 8;

/** Rule I8: how long identities without verified work live. */
export interface IdentityLifetime {
  /** An identity that never had a result verified is forgotten this long after it was issued; 0 = never. */
  ttlMs: number;
  /** Whether this volunteer ever had a result verified (its reputation says). */
  hasVerifiedWork: (volunteerId: string) => Promise<boolean>;
}

const FOREVER: IdentityLifetime = { ttlMs: 0, hasVerifiedWork: () => Promise.resolve(true) };

/** Display names kept in memory at most (the least recently used forgotten first). */
export const NAMES_KEPT = 100_000;

export class IdentityStore {
  /**
   * id -> display name, for the live view (names never change). Bounded: at most `namesKept`
   * names, the least recently used forgotten first; a forgotten name is read again from the
   * backend when next asked for (at once on SQLite, on the following call on Redis).
   */
  private readonly names: LRUCache<string, string>;
  /** Names being read in the background: bounded by the reads in flight. */
  private readonly loading = new Set<string>();

  constructor(
    private readonly backend: IdentityBackend,
    private readonly lifetime: IdentityLifetime = FOREVER,
    { namesKept = NAMES_KEPT }: { namesKept?: number } = {},
  ) {
    this.names = new LRUCache({ max: namesKept });
  }

  /** Display names held in memory (at most `namesKept`). */
  get namesHeld(): number {
    return this.names.size;
  }

  /**
   * Creates a new identity (rule I1). The token is returned once, here, and
   * never stored: only its hash is.
   */
  async create(now: number): Promise<Identity & { token: string }> {
    const volunteerId = issueVolunteerId();
    const token = issueToken();
    const tokenSha256 = hashToken(token);
    for (let attempt = 0; ; attempt++) {
      const base = randomDisplayName();
      const displayName = attempt < NAME_ATTEMPTS ? base : `${base}${attempt}`;
      const row = { volunteerId, tokenSha256, displayName, createdAt: now };
      if (await this.backend.insert(row, this.lifetime.ttlMs || undefined)) {
        this.names.set(volunteerId, displayName);
        return { volunteerId, token, displayName };
      }
    }
  }

  /**
   * The identity `volunteerId` names, if `token` is its secret (rule I2); null
   * for an unknown id or a wrong token (the caller cannot tell which).
   */
  async verify(volunteerId: string, token: string, now: number): Promise<Identity | null> {
    const row = await this.backend.get(volunteerId);
    // Hash a token even for an unknown id, so both refusals take the same time.
    const matches = tokenMatches(token, row?.tokenSha256 ?? Buffer.alloc(32));
    if (!row || !matches) return null;
    // Rule I8: past its lifetime, an identity that never did verified work is gone.
    const { ttlMs } = this.lifetime;
    if (ttlMs > 0 && row.createdAt <= now - ttlMs && !(await this.lifetime.hasVerifiedWork(volunteerId)))
      return null;
    // Last-seen is informational: a returning volunteer can reconnect while the store
    // refuses writes (locked, full), and keeps its leases' work going (issue 11).
    try {
      await this.backend.touch(volunteerId, now); // SQLite throws at once, Redis rejects
    } catch {
      /* informational only */
    }
    this.names.set(row.volunteerId, row.displayName);
    return { volunteerId: row.volunteerId, displayName: row.displayName };
  }

  /** This volunteer had a result verified: its identity no longer expires (rule I8). */
  async kept(volunteerId: string): Promise<void> {
    await this.backend.keep(volunteerId);
  }

  /** Forgets identities past their lifetime without verified work; returns how many (SQLite). */
  async sweep(now: number): Promise<number> {
    return this.lifetime.ttlMs > 0 ? this.backend.expire(now - this.lifetime.ttlMs) : 0;
  }

  /**
   * The public name of a volunteer ('' for an unknown id, e.g. work from before protocol 2).
   * Synchronous for the live view: a name not yet in memory (a volunteer of another gateway)
   * is '' this once and is fetched in the background for the next call.
   */
  displayName(volunteerId: string): string {
    const cached = this.names.get(volunteerId);
    if (cached !== undefined) return cached;
    if (this.backend.getSync) {
      const name = this.backend.getSync(volunteerId)?.displayName ?? '';
      if (name) this.names.set(volunteerId, name);
      return name;
    }
    if (!this.loading.has(volunteerId)) {
      this.loading.add(volunteerId);
      this.backend
        .get(volunteerId)
        .then((row) => {
          if (row) this.names.set(volunteerId, row.displayName);
        })
        .catch(() => undefined)
        .finally(() => this.loading.delete(volunteerId));
    }
    return this.names.get(volunteerId) ?? '';
  }
}
