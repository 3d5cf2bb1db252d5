/**
 * The agent's state file: its server-issued identity (id, secret token,
 * display name), kept in a small JSON file outside the repository with mode
 * 0600. Written atomically (temporary file + rename).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { IdentityTokenSchema, VolunteerAuthSchema } from '@tabgrid/protocol';
import type { IdentityStore, VolunteerIdentity } from '@tabgrid/volunteer-client';

/** `$TABGRID_AGENT_STATE`, else `~/.tabgrid-agent.json`. */
export function defaultStatePath(): string {
  return process.env.TABGRID_AGENT_STATE?.trim() || path.join(homedir(), '.tabgrid-agent.json');
}

/** The state file is not JSON, or not an object: an error for the operator, never silently replaced. */
export class CorruptStateError extends Error {
  override readonly name = 'CorruptStateError';
}

/**
 * An `IdentityStore` on a JSON file. A missing file is a new volunteer; a file
 * from protocol 1 (an id without a token) is read as no identity, and replaced
 * by the server-issued one on the first connection.
 */
export class FileIdentityStore implements IdentityStore {
  constructor(
    readonly statePath: string,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Throws CorruptStateError for an unreadable file (checked at start-up by `main.ts`). */
  async load(): Promise<VolunteerIdentity | null> {
    let text: string;
    try {
      text = await readFile(this.statePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let state: unknown;
    try {
      state = JSON.parse(text);
    } catch {
      throw new CorruptStateError(`${this.statePath} is not valid JSON; fix or delete it`);
    }
    if (!state || typeof state !== 'object')
      throw new CorruptStateError(`${this.statePath} is not an object`);
    const { volunteerId, token, displayName } = state as Record<string, unknown>;
    const idOk = VolunteerAuthSchema.shape.volunteerId.safeParse(volunteerId).success;
    const tokenOk = IdentityTokenSchema.safeParse(token).success;
    if (!idOk || !tokenOk) {
      this.log(`${this.statePath} holds no server-issued identity; the server will issue one`);
      return null;
    }
    return {
      volunteerId: volunteerId as string,
      token: token as string,
      ...(typeof displayName === 'string' ? { displayName } : {}),
    };
  }

  async save(identity: VolunteerIdentity): Promise<void> {
    await mkdir(path.dirname(this.statePath), { recursive: true });
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    const body = { ...identity, savedAt: new Date().toISOString() };
    await writeFile(tmp, JSON.stringify(body, null, 2) + '\n', { mode: 0o600 });
    await rename(tmp, this.statePath);
  }

  /** Forgets the identity (the server refused it): the file keeps no id until the next `save`. */
  async clear(): Promise<void> {
    await mkdir(path.dirname(this.statePath), { recursive: true });
    await writeFile(this.statePath, JSON.stringify({ clearedAt: new Date().toISOString() }) + '\n', {
      mode: 0o600,
    });
  }
}
