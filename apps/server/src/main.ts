import { signInLink } from './access/bootstrap';
import { startServer } from './app';
import { loadConfig } from './config';

/**
 * Entry point: `npm start` (after `vite build`) or `npm run serve`.
 * SIGTERM/SIGINT shut down gracefully: no new work, leases handed back,
 * database closed cleanly.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  console.log(
    `Tabgrid is up: dashboard ${server.url}/  volunteer ${server.url}/volunteer  live ${server.url}/live`,
  );
  // First start only: printed once to the terminal, never to the log (the key is in the fragment).
  if (server.firstKey) console.log(`\nSign in (shown once): ${signInLink(server.port, server.firstKey)}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
