import { ApiRequestError, planChunks, type TabgridClient, type UploadOutcome } from '@tabgrid/client';
import type { ExportFormat, JobCreated, Me, RejectedFile } from '@tabgrid/protocol';
import { CliError } from './cli-error';
import { collectFiles, openForUpload, type DiskFile, type LocalFile } from './local-files';
import { progress } from './progress';
import { waitAndExport, type Output } from './results';
import {
  acceptedByServer,
  loadState,
  saveState,
  stateDir,
  statePath,
  type SubmitState,
} from './submit-state';

export interface SubmitOptions {
  public?: boolean;
  wait?: boolean;
  format?: ExportFormat;
  out?: string;
  /** Ignore the state of an earlier run of the same command: a new job. */
  new?: boolean;
  /** Polling period while waiting, ms. */
  pollMs?: number;
}

/** Most rejected files listed one per line (the rest are counted). */
const LIST_MAX = 20;

const fresh = (server: string): SubmitState => ({
  version: 1,
  server,
  jobId: null,
  accepted: [],
  rejected: [],
  complete: false,
});

/**
 * `tabgrid submit <files or folders…>`: every photo as one job, in requests of the server's
 * `maxFiles` (the client's chunked upload, as the dashboard's). The state file (submit-state.ts)
 * records the job and each file's fate after every request, so running the same command again
 * sends only the photos the job does not hold yet. With `--wait` (or `--format`/`--out`) it
 * waits for the job and writes the export.
 */
export async function submit(
  client: TabgridClient,
  server: string,
  args: readonly string[],
  options: SubmitOptions,
  out: Output,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<void> {
  const isPublic = options.public ?? false;
  const files = collectFiles(args);
  if (files.length === 0) throw new CliError(`no files in ${args.join(', ')}`);
  const me = await client.me();
  const file = statePath(stateDir(env), server, files, isPublic);
  // What would never be sent (not an image, empty, over the size limit) is left out from the start.
  const { chunks, skipped } = planChunks(files, me.limits);
  for (const s of skipped) out.note(`skipped ${s.name}: ${s.message}`);
  const sendable = chunks.flat();
  let state = options.new ? fresh(server) : loadState(file, server);
  state = await reconcile(client, state, sendable, server, out);
  let outcome = await upload(client, sendable, state, me, isPublic, out, signal, (s) => saveState(file, s));
  if (outcome.error?.status === 409 && state.accepted.length > 0 && outcome.jobId === state.jobId) {
    // The job this command was resuming was deleted meanwhile: the photos go to a new one.
    out.note(`job ${state.jobId} was deleted; sending every photo to a new job`);
    state = fresh(server);
    outcome = await upload(client, sendable, state, me, isPublic, out, signal, (s) => saveState(file, s));
  }
  if (outcome.cancelled) throw new CliError('interrupted: run the same command again to send the rest', 130);
  if (outcome.error)
    throw new CliError(
      `${outcome.error.code}: ${outcome.error.message}${state.jobId ? ` (job ${state.jobId}; run the same command again to send the rest)` : ''}`,
    );
  state.complete = true;
  saveState(file, state);
  report(state, sendable.length, out);
  if (!state.jobId) throw new CliError('no photo was accepted');

  if (options.wait || options.format || options.out)
    await waitAndExport(client, state.jobId, options.format ?? 'coco', options.out, out, {
      pollMs: options.pollMs,
      signal,
    });
  // The job id on stdout (for scripts), unless the export went there.
  if (!(options.wait || options.format) || options.out) out.result(`${state.jobId}\n`);
}

/**
 * The state checked against the server: its job must still exist and be the caller's (else a new
 * job), and photos the job holds that the state missed are counted as accepted.
 */
async function reconcile(
  client: TabgridClient,
  state: SubmitState,
  files: readonly LocalFile[],
  server: string,
  out: Output,
): Promise<SubmitState> {
  if (!state.jobId) return state;
  let job;
  try {
    job = await client.job(state.jobId);
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) {
      out.note(`job ${state.jobId} of an earlier run is gone; starting a new job`);
      return fresh(server);
    }
    throw err;
  }
  state.accepted.push(...acceptedByServer(job, files, state));
  const held = state.accepted.length + state.rejected.length;
  out.note(
    state.complete || held >= files.length
      ? `job ${state.jobId} already holds these photos: nothing to send`
      : `resuming job ${state.jobId}: ${state.accepted.length} of ${files.length} photos already there`,
  );
  return state;
}

/** Sends the files the state does not account for, recording each request's outcome in it. */
async function upload(
  client: TabgridClient,
  sendable: readonly LocalFile[],
  state: SubmitState,
  me: Me,
  isPublic: boolean,
  out: Output,
  signal: AbortSignal,
  save: (state: SubmitState) => void,
): Promise<UploadOutcome> {
  const known = new Set([...state.accepted, ...state.rejected.map((r) => r.path)]);
  const todo = sendable.filter((f) => !known.has(f.path));
  const base = sendable.length - todo.length;
  if (todo.length === 0)
    return { jobId: state.jobId, stored: 0, rejected: [], cancelled: false, error: null };
  const uploads = await Promise.all(todo.map(openForUpload));
  const bar = progress('upload', sendable.length, 'photos');
  bar.update(base);
  let sent = base;
  const record = (
    chunk: readonly DiskFile[],
    created: JobCreated | null,
    rejected: readonly RejectedFile[],
  ) => {
    const refused = new Map(rejected.map((r) => [r.index, r]));
    chunk.forEach((f, i) => {
      const r = refused.get(i);
      if (r) state.rejected.push({ path: f.local.path, code: r.code, message: r.message });
      else if (created) state.accepted.push(f.local.path);
    });
    if (created) state.jobId = created.id;
    save(state);
    sent += chunk.length;
    bar.update(sent, state.jobId ? `job ${state.jobId}` : '');
  };
  try {
    return await client.uploadInChunks(uploads, {
      limits: me.limits,
      isPublic,
      jobId: state.jobId,
      signal,
      onStored: (created, _first, chunk) => record(chunk, created, created.rejected ?? []),
      onRefused: (chunk, rejected) => record(chunk, null, rejected),
    });
  } finally {
    bar.stop();
  }
}

function report(state: SubmitState, total: number, out: Output): void {
  for (const r of state.rejected.slice(0, LIST_MAX)) out.note(`rejected ${r.path}: ${r.code}: ${r.message}`);
  if (state.rejected.length > LIST_MAX) out.note(`… and ${state.rejected.length - LIST_MAX} more rejected`);
  out.note(
    `job ${state.jobId ?? '(none)'}: ${state.accepted.length} of ${total} photos stored` +
      (state.rejected.length ? `, ${state.rejected.length} rejected` : ''),
  );
}
