/**
 * Volunteer identities: the server-issued id, the SHA-256 of its secret token, and the public
 * display name, kept by an `IdentityBackend` (SQLite or Redis). Nothing else in the server
 * reads or writes them.
 */
import { randomDisplayName } from './display-names';
import type { IdentityBackend } from './identity-backend';
import { hashToken, issueToken, issueVolunteerId, tokenMatches } from './tokens';

export interface Identity {
  volunteerId: string;
  displayName: string;
}

/** Display names are unique; a collision draws again, this many times, before adding digits. */
const NAME_ATTEMPTS = 8;

export class IdentityStore {
  /** id -> display name, for the live view (names never change). */
  private readonly names = new Map<string, string>();
  private readonly loading = new Set<string>();

  constructor(private readonly backend: IdentityBackend) {}

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
      if (await this.backend.insert({ volunteerId, tokenSha256, displayName, createdAt: now })) {
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
