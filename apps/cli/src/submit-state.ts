import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { digestOf, isSamePhoto, type PhotoInJob } from '@tabgrid/client';
import { z } from 'zod';
import type { LocalFile } from './local-files';

/**
 * What a `submit` has done so far, kept in a small file so that running the same command again
 * (after a crash, Ctrl-C, a network failure) adds only the photos not yet accepted to the same job.
 * Keyed by the server and the set of files (paths, sizes, modification times) and `--public`.
 */
const SubmitStateSchema = z.object({
  version: z.literal(1),
  server: z.string(),
  jobId: z.string().nullable(),
  /** Paths the server stored (as tasks of `jobId`). */
  accepted: z.array(z.string()),
  /** Paths the server (or the plan) refused, with the reason: sending them again would not help. */
  rejected: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })),
  /** Every file was sent. */
  complete: z.boolean(),
});
export type SubmitState = z.infer<typeof SubmitStateSchema>;

/** `TABGRID_STATE_DIR`, else `$XDG_CACHE_HOME/tabgrid`, else `~/.cache/tabgrid`. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  if (env.TABGRID_STATE_DIR) return path.resolve(env.TABGRID_STATE_DIR);
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tabgrid');
}

/** The state file of one submit: the same server, files and `--public` give the same file. */
export function statePath(
  dir: string,
  server: string,
  files: readonly LocalFile[],
  isPublic: boolean,
): string {
  const hash = createHash('sha256').update(`${server}\n${isPublic}\n`);
  for (const f of files) hash.update(`${f.path}\0${f.size}\0${Math.trunc(f.mtimeMs)}\n`);
  return path.join(dir, `submit-${hash.digest('hex').slice(0, 32)}.json`);
}

export function loadState(file: string, server: string): SubmitState {
  try {
    const parsed = SubmitStateSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (parsed.success && parsed.data.server === server) return parsed.data;
  } catch {
    // none yet, or unreadable: start afresh
  }
  return { version: 1, server, jobId: null, accepted: [], rejected: [], complete: false };
}

/** Written to a temporary file, then renamed: a kill mid-write leaves the previous state. */
export function saveState(file: string, state: SubmitState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2));
  fs.renameSync(tmp, file);
}

/** The SHA-256 of a file's bytes (hex): asked only for a file whose name the job has. */
export function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * The files the job already holds that the state does not record (their request was answered
 * after the state was last written, e.g. the CLI was killed while the server stored a chunk).
 * The job's tasks are in upload order and files are sent in path order, so the job's unrecorded
 * tasks are matched in order against the files not yet recorded: by name and, where the server
 * gives it, by the digest of the bytes (`isSamePhoto`, shared with the dashboard's "send the
 * rest"), so a different file under the same name is sent rather than taken as held.
 */
export function acceptedByServer(
  job: { tasks: readonly PhotoInJob[] },
  files: readonly LocalFile[],
  state: Pick<SubmitState, 'accepted' | 'rejected'>,
  sha256: (file: string) => string = fileSha256,
): string[] {
  const recorded = new Set([...state.accepted, ...state.rejected.map((r) => r.path)]);
  // The job's tasks minus those of files already recorded as accepted.
  const unexplained = [...job.tasks];
  for (const p of state.accepted) {
    const i = unexplained.findIndex((t) => t.name === path.basename(p));
    if (i >= 0) unexplained.splice(i, 1);
  }
  const found: string[] = [];
  let next = 0;
  for (const f of files) {
    if (next >= unexplained.length) break;
    if (recorded.has(f.path)) continue;
    if (isSamePhoto(unexplained[next]!, f.name, () => digestOf(sha256(f.path)))) {
      found.push(f.path);
      next++;
    }
  }
  return found;
}
