/**
 * Volunteer identities in SQLite (`volunteer_identities`): the server-issued
 * id, the SHA-256 of its secret token, and the public display name. Nothing
 * else in the server reads or writes this table.
 */
import type { Db } from '../storage/database';
import { randomDisplayName } from './display-names';
import { hashToken, issueToken, issueVolunteerId, tokenMatches } from './tokens';

export interface Identity {
  volunteerId: string;
  displayName: string;
}

interface Row {
  id: string;
  token_sha256: Buffer;
  display_name: string;
}

/** Display names are unique; a collision draws again, this many times, before adding digits. */
const NAME_ATTEMPTS = 8;

export class IdentityStore {
  private readonly s;
  /** id -> display name, for the live view (names never change). */
  private readonly names = new Map<string, string>();

  constructor(private readonly db: Db) {
    this.s = {
      get: db.prepare<[string], Row>(
        'SELECT id, token_sha256, display_name FROM volunteer_identities WHERE id = ?',
      ),
      insert: db.prepare<[string, Buffer, string, number, number]>(
        `INSERT INTO volunteer_identities (id, token_sha256, display_name, created_at, last_seen_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (display_name) DO NOTHING`,
      ),
      seen: db.prepare<[number, string]>('UPDATE volunteer_identities SET last_seen_at = ? WHERE id = ?'),
    };
  }

  /**
   * Creates a new identity (rule I1). The token is returned once, here, and
   * never stored: only its hash is.
   */
  create(now: number): Identity & { token: string } {
    const volunteerId = issueVolunteerId();
    const token = issueToken();
    const hash = hashToken(token);
    for (let attempt = 0; ; attempt++) {
      const base = randomDisplayName();
      const displayName = attempt < NAME_ATTEMPTS ? base : `${base}${attempt}`;
      if (this.s.insert.run(volunteerId, hash, displayName, now, now).changes === 1) {
        this.names.set(volunteerId, displayName);
        return { volunteerId, token, displayName };
      }
    }
  }

  /**
   * The identity `volunteerId` names, if `token` is its secret (rule I2); null
   * for an unknown id or a wrong token (the caller cannot tell which).
   */
  verify(volunteerId: string, token: string, now: number): Identity | null {
    const row = this.s.get.get(volunteerId);
    // Hash a token even for an unknown id, so both refusals take the same time.
    const matches = tokenMatches(token, row?.token_sha256 ?? Buffer.alloc(32));
    if (!row || !matches) return null;
    try {
      this.s.seen.run(now, volunteerId);
    } catch {
      // Last-seen is informational: a returning volunteer can reconnect while the database
      // refuses writes (locked, full), and keeps its leases' work going (issue 11).
    }
    this.names.set(row.id, row.display_name);
    return { volunteerId: row.id, displayName: row.display_name };
  }

  /** The public name of a volunteer ('' for an unknown id, e.g. work from before protocol 2). */
  displayName(volunteerId: string): string {
    const cached = this.names.get(volunteerId);
    if (cached !== undefined) return cached;
    const name = this.s.get.get(volunteerId)?.display_name ?? '';
    if (name) this.names.set(volunteerId, name);
    return name;
  }
}
