/** The agent's persistent volunteer id, kept in a small JSON file outside the repository. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { VolunteerAuthSchema } from '@tabgrid/protocol';

/** `$TABGRID_AGENT_STATE`, else `~/.tabgrid-agent.json`. */
export function defaultStatePath(): string {
  return process.env.TABGRID_AGENT_STATE?.trim() || path.join(homedir(), '.tabgrid-agent.json');
}

/** A fresh id like `agent-3f9c0a1b2c4d5e6f`. */
export const generateVolunteerId = () => `agent-${randomBytes(8).toString('hex')}`;

/** Throws unless `id` is a valid volunteer id. */
export function checkVolunteerId(id: string): string {
  const parsed = VolunteerAuthSchema.shape.volunteerId.safeParse(id);
  if (!parsed.success) throw new Error(`volunteer id "${id}" is invalid: use 1-64 of [A-Za-z0-9_-]`);
  return parsed.data;
}

/**
 * `explicitId` if given; otherwise the id stored in `statePath`, created (and
 * stored) on first use. A corrupt state file is an error, not silently replaced.
 */
export async function loadOrCreateVolunteerId(
  explicitId: string | undefined,
  statePath: string,
): Promise<string> {
  if (explicitId !== undefined) return checkVolunteerId(explicitId);
  let text: string | null = null;
  try {
    text = await readFile(statePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== null) {
    let state: unknown;
    try {
      state = JSON.parse(text);
    } catch {
      throw new Error(`${statePath} is not valid JSON; fix or delete it, or pass --id`);
    }
    const id = (state as { volunteerId?: unknown } | null)?.volunteerId;
    if (typeof id !== 'string')
      throw new Error(`${statePath} has no volunteerId; fix or delete it, or pass --id`);
    return checkVolunteerId(id);
  }
  const volunteerId = generateVolunteerId();
  await mkdir(path.dirname(statePath), { recursive: true });
  const tmp = `${statePath}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ volunteerId, createdAt: new Date().toISOString() }, null, 2) + '\n');
  await rename(tmp, statePath);
  return volunteerId;
}
