import { ApiRequestError } from '@tabgrid/client';
import { EXPORT_FORMATS, type ExportFormat } from '@tabgrid/protocol';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CliError } from './cli-error';
import { cancelJob, deleteJob, exportJob, listJobs, showStatus } from './commands';
import type { Output } from './results';
import { clientFor, DEFAULT_SERVER, settingsFrom } from './settings';
import { submit, type SubmitOptions } from './submit';

const formatOption = () =>
  new Option('--format <format>', 'export format').choices(EXPORT_FORMATS as unknown as string[]);

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number above 0');
  return n;
};

/** One line for a failure: the server's code and message, or ours; never a stack trace. */
export function explain(err: unknown): { line: string; exitCode: number } {
  if (err instanceof CliError) return { line: err.message, exitCode: err.exitCode };
  if (err instanceof ApiRequestError) {
    if (err.code === 'cancelled') return { line: 'interrupted', exitCode: 130 };
    const hint =
      err.code === 'network_error'
        ? ' (is the server running? set --server or TABGRID_URL)'
        : err.status === 401
          ? ' (check TABGRID_KEY)'
          : '';
    return { line: `${err.code}: ${err.message}${hint}`, exitCode: 1 };
  }
  return { line: `internal error: ${err instanceof Error ? err.message : String(err)}`, exitCode: 1 };
}

/**
 * `tabgrid`: the requester API from a terminal (README "Command line"). Runs one command and
 * resolves with the process exit code; `out` receives results (stdout) and notes (stderr).
 */
export async function run(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: Output,
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
  const program = new Command()
    .name('tabgrid')
    .description('Send photos to a Tabgrid server for object detection, follow jobs, export results.')
    .option('--server <url>', `the server (default: TABGRID_URL, else ${DEFAULT_SERVER})`)
    .addHelpText('after', '\nThe API key is read from TABGRID_KEY.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.result(s), writeErr: (s) => out.note(s.trimEnd()) })
    .showHelpAfterError('(tabgrid --help shows the commands)');

  const client = () => {
    const settings = settingsFrom(program.opts<{ server?: string }>(), env);
    return { settings, client: clientFor(settings) };
  };

  program
    .command('submit')
    .description(
      'upload photos (files, or folders read recursively) as one job, in chunks; run again to resume',
    )
    .argument('<paths...>', 'photos or folders')
    .option('--public', 'show the results on the public live wall')
    .option('--wait', 'wait for the job to finish, then write the export')
    .addOption(formatOption().default(undefined, 'coco'))
    .option('--out <file>', 'write the export to this file (default: stdout)')
    .option('--new', 'start a new job even if an earlier run of the same command was interrupted')
    .addOption(
      new Option('--poll-ms <ms>', 'how often to check the job while waiting')
        .argParser(positiveInt)
        .hideHelp(),
    )
    .action(async (paths: string[], options: SubmitOptions) => {
      const { settings, client: c } = client();
      await submit(c, settings.server, paths, options, out, env, signal);
    });

  program
    .command('jobs')
    .description("list the key's jobs, newest first")
    .option('--json', 'one JSON object per line')
    .option('--limit <n>', 'at most this many', positiveInt)
    .action((options: { json?: boolean; limit?: number }) => listJobs(client().client, options, out));

  program
    .command('status')
    .description("a job's status and task counts")
    .argument('<id>', 'job id')
    .option('--json', 'the whole job as JSON')
    .action((id: string, options: { json?: boolean }) => showStatus(client().client, id, options, out));

  program
    .command('export')
    .description("write a job's results as COCO, CSV or JSON")
    .argument('<id>', 'job id')
    .addOption(formatOption().makeOptionMandatory())
    .option('--out <file>', 'write to this file (default: stdout)')
    .action((id: string, options: { format: ExportFormat; out?: string }) =>
      exportJob(client().client, id, options, out),
    );

  program
    .command('cancel')
    .description("stop a job's unfinished tasks; the job, its results and exports stay")
    .argument('<id>', 'job id')
    .action((id: string) => cancelJob(client().client, id, out));

  program
    .command('delete')
    .description("cancel a job's unfinished tasks and free its images (results are kept)")
    .argument('<id>', 'job id')
    .action((id: string) => deleteJob(client().client, id, out));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its own message (usage errors) or the help.
    if (err instanceof CommanderError) return err.exitCode;
    const { line, exitCode } = explain(err);
    out.note(`tabgrid: ${line}`);
    return exitCode;
  }
}
