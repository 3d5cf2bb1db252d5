/**
 * `npm run agent -- --server http://host:port [--state FILE] [--slots N] [--model FILE] [--threads N]`
 *
 * A headless volunteer on onnxruntime-node. Its identity (server-issued id,
 * secret token, display name) is kept in the state file (`--state`,
 * `$TABGRID_AGENT_STATE`, default `~/.tabgrid-agent.json`), issued on first run.
 */
import { parseArgs } from 'node:util';
import { startAgent } from './agent';
import { defaultStatePath, FileIdentityStore } from './state';

const USAGE = `usage: npm run agent -- --server http://host:port [options]

  --server URL     Tabgrid server origin (required)
  --state FILE     where the server-issued identity (id + secret token) is kept
                   (default $TABGRID_AGENT_STATE or ~/.tabgrid-agent.json; mode 0600)
  --slots N        tasks run at once, one onnxruntime session each (1-8, default 1)
  --model FILE     use this model file (must match the server's SHA-256)
  --threads N      onnxruntime intra-op threads per session (default: all cores / slots)
  -h, --help       show this help`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        server: { type: 'string' },
        id: { type: 'string' },
        slots: { type: 'string' },
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

  const slots = values.slots === undefined ? 1 : Number(values.slots);
  if (!(Number.isInteger(slots) && slots >= 1 && slots <= 8)) {
    console.error(`--slots must be an integer from 1 to 8`);
    return 2;
  }
  if (values.id !== undefined) {
    console.error(
      '--id is no longer supported: volunteer ids are issued by the server and kept with their secret token in the --state file',
    );
    return 2;
  }

  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const identity = new FileIdentityStore(values.state ?? defaultStatePath(), log);
  try {
    await identity.load(); // a corrupt state file is the operator's to fix, not silently replaced
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const agent = startAgent({ server, identity, slots, modelPath: values.model, threads, log });

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
