import fs from 'node:fs';
import path from 'node:path';
import type { TabgridClient } from '@tabgrid/client';
import type { ExportFormat, JobView } from '@tabgrid/protocol';
import { CliError } from './cli-error';
import { progress } from './progress';

/** Where the CLI writes: results on stdout (pipeable), everything for people on stderr. */
export interface Output {
  result(text: string | Uint8Array): void;
  note(line: string): void;
}

export const processOutput: Output = {
  result: (text) => void process.stdout.write(text),
  note: (line) => void process.stderr.write(`${line}\n`),
};

const count = (job: JobView, status: JobView['tasks'][number]['status']) =>
  job.tasks.filter((t) => t.status === status).length;

/** `done 148, failed 2, running 0, queued 0`. */
export const counts = (job: JobView) =>
  (['done', 'failed', 'running', 'queued'] as const).map((s) => `${s} ${count(job, s)}`).join(', ');

/** Waits for the job (polling, with a progress display), then writes its export. */
export async function waitAndExport(
  client: TabgridClient,
  jobId: string,
  format: ExportFormat,
  file: string | undefined,
  out: Output,
  options: { pollMs?: number; signal: AbortSignal },
): Promise<void> {
  let bar: ReturnType<typeof progress> | null = null;
  let job: JobView;
  try {
    job = await client.waitForJob(jobId, {
      intervalMs: options.pollMs,
      signal: options.signal,
      onUpdate: (view) => {
        bar ??= progress('detect', view.tasks.length, 'photos');
        bar.update(count(view, 'done') + count(view, 'failed'), `job ${jobId}`);
      },
    });
  } finally {
    (bar as ReturnType<typeof progress> | null)?.stop();
  }
  out.note(`job ${jobId} ${job.status}: ${counts(job)}`);
  for (const t of job.tasks.filter((t) => t.status === 'failed').slice(0, 20))
    out.note(`failed ${t.name}: ${t.error ? `${t.error.code}: ${t.error.message}` : 'no reason given'}`);
  await writeExport(client, jobId, format, file, out);
}

/** The job's export into `file` (written whole, then renamed into place) or on stdout. */
export async function writeExport(
  client: TabgridClient,
  jobId: string,
  format: ExportFormat,
  file: string | undefined,
  out: Output,
): Promise<void> {
  const exported = await client.exportJob(jobId, format);
  const bytes = new Uint8Array(await exported.body.arrayBuffer());
  if (!file) {
    out.result(bytes);
    return;
  }
  const target = path.resolve(file);
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  out.note(`wrote ${file} (${format}, ${bytes.length} bytes)`);
}
