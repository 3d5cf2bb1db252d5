import { publicBase, signInHint, signInLink } from './access/bootstrap';
import { startServer } from './app';
import { loadConfig } from './config';

/** Longest a shutdown after an uncaught exception may take before the process exits anyway. */
const CRASH_CLOSE_MS = 5000;

/**
 * Entry point: `npm start` (after `vite build`) or `npm run serve`.
 * SIGTERM/SIGINT shut down gracefully: no new work, leases handed back,
 * database closed cleanly.
 *
 * Process-level failures go to the server's error sink (logged, counted in
 * `tabgrid_background_errors_total{where="process.*"}`): an unhandled
 * rejection is reported and the server keeps running; an uncaught exception
 * leaves the process in an unknown state, so it is reported, sockets and the
 * database are closed cleanly, and the process exits with 1 for its
 * supervisor to restart it (docs/DEPLOY.md).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  // One host in every line: the sign-in link's origin is the one whose storage keeps the key.
  const base = publicBase(config.host, server.port);
  console.log(`Tabgrid is up: dashboard ${base}/  volunteer ${base}/volunteer  live ${base}/live`);
  // First start only: printed once to the terminal, never to the log (the key is in the fragment).
  if (server.firstKey) console.log(`\nSign in (shown once): ${signInLink(base, server.firstKey)}\n`);
  else console.log(signInHint(base));
  let stopping = false;
  const stop = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ reason }, 'shutting down');
    if (code !== 0) setTimeout(() => process.exit(code), CRASH_CLOSE_MS).unref();
    server.close().then(
      () => process.exit(code),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('unhandledRejection', (reason) => server.errors.report('process.unhandledRejection', reason));
  process.on('uncaughtException', (err) => {
    server.errors.report('process.uncaughtException', err);
    stop('uncaughtException', 1);
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
