import { startAgent, type Agent } from '../../../agent/src/agent';

/**
 * A real headless agent (onnxruntime-node, one thread) on `url`, over WebSocket without
 * reconnection, resolved once its model is ready. It is pushed on `agents` first, so the test's
 * clean-up stops it even when it never gets ready.
 */
export async function startHonestAgent(url: string, agents: Agent[]): Promise<Agent> {
  const a = startAgent({
    server: url,
    threads: 1,
    socketOptions: { transports: ['websocket'], reconnection: false },
  });
  agents.push(a);
  await new Promise<void>((resolve, reject) => {
    a.on('ready', () => resolve());
    a.on('fatal', reject);
  });
  return a;
}
