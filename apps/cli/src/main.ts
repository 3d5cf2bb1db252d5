/**
 * Entry point of the `tabgrid` CLI (`npx tabgrid …`, via bin/tabgrid.mjs). Ctrl-C stops the
 * command cleanly (a submit keeps what was stored and resumes when run again); a second one kills.
 */
import { run } from './program';
import { processOutput } from './results';

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.on('uncaughtException', (err) => {
  process.stderr.write(`tabgrid: internal error: ${err.message}\n`);
  process.exit(1);
});

process.exitCode = await run(process.argv.slice(2), process.env, processOutput, controller.signal);
