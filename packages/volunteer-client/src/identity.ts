/**
 * Where a volunteer keeps its server-issued identity (PROTOCOL.md rules I1-I3).
 * The browser keeps it in IndexedDB, the agent in its state file; tests use
 * `MemoryIdentityStore`.
 */
export interface VolunteerIdentity {
  /** The server-issued id. Private: the server never publishes it. */
  volunteerId: string;
  /** The secret that proves the id is ours (43 base64url characters). */
  token: string;
  /** The public pseudonym the server assigned, for display. */
  displayName?: string;
}

/** Pluggable persistence for one identity. Failures to save are reported, never fatal. */
export interface IdentityStore {
  /** The stored identity, or null (never stored, or unreadable: treated as a miss). */
  load(): Promise<VolunteerIdentity | null>;
  save(identity: VolunteerIdentity): Promise<void>;
  /** Forgets the identity (the server refused it); the next connection gets a new one. */
  clear(): Promise<void>;
}

/** Keeps the identity in memory only: a new identity per process (tests, throwaway volunteers). */
export class MemoryIdentityStore implements IdentityStore {
  constructor(private identity: VolunteerIdentity | null = null) {}

  async load(): Promise<VolunteerIdentity | null> {
    return this.identity ? { ...this.identity } : null;
  }

  async save(identity: VolunteerIdentity): Promise<void> {
    this.identity = { ...identity };
  }

  async clear(): Promise<void> {
    this.identity = null;
  }

  /** The identity held right now (synchronous, for tests). */
  get current(): VolunteerIdentity | null {
    return this.identity;
  }
}
