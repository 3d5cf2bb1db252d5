/**
 * `npm run agent -- --server http://host:port [--id ID] [--model FILE] [--state FILE] [--threads N]`
 *
 * A headless volunteer on onnxruntime-node. The volunteer id is `--id`, or the
 * one stored in the state file (`--state`, `$TABGRID_AGENT_STATE`, default
 * `~/.tabgrid-agent.json`), generated on first run.
 */
import { parseArgs } from 'node:util';
import { startAgent } from './agent';
import { loadOrCreateVolunteerId, defaultStatePath } from './state';

const USAGE = `usage: npm run agent -- --server http://host:port [options]

  --server URL     Tabgrid server origin (required)
  --id ID          volunteer id ([A-Za-z0-9_-], max 64); default: stored in the state file
  --model FILE     use this model file (must match the server's SHA-256)
  --state FILE     where the generated id is kept (default $TABGRID_AGENT_STATE or ~/.tabgrid-agent.json)
  --threads N      onnxruntime intra-op threads (default: all cores)
  -h, --help       show this help`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        server: { type: 'string' },
        id: { type: 'string' },
        model: { type: 'string' },
        state: { type: 'string' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.server) {
    console.error(`--server is required\n\n${USAGE}`);
    return 2;
  }
  let server: string;
  try {
    server = new URL(values.server).origin;
  } catch {
    console.error(`--server ${values.server} is not a URL`);
    return 2;
  }
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
    console.error(`--threads must be a positive integer`);
    return 2;
  }

  let volunteerId: string;
  try {
    volunteerId = await loadOrCreateVolunteerId(values.id, values.state ?? defaultStatePath());
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }

  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const agent = startAgent({ server, volunteerId, modelPath: values.model, threads, log });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: disconnecting`);
      void agent.stop().then(() => resolve(0));
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    agent.on('fatal', () => void agent.stop().then(() => resolve(1)));
  });
}

process.exitCode = await main();
// Nothing else should keep the process alive once the agent has stopped.
process.exit();
