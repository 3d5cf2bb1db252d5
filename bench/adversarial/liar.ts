/**
 * A scripted liar volunteer as its own process (issue 7, section 5):
 *
 *   node --import tsx bench/adversarial/liar.ts --server URL --kind KIND --state FILE
 *        [--seed N] [--turn-file FILE] [--lie-rate F] [--victim-state FILE]
 *
 * KIND is one of `LIAR_KINDS` (kinds.ts). It prints one JSON `LiarEvent` per line on stdout.
 * `takeover` needs `--victim-state` (an honest agent's state file; only its id is read). A
 * `turncoat` runs the real model (the agent's pool, greedy slots) until `--turn-file` exists (the
 * suite writes it once the server trusts it), then lies on `--lie-rate` of its tasks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { VolunteerClient } from '@tabgrid/volunteer-client';
import { FileIdentityStore } from '../../apps/agent/src/state';
import { isLiarKind, type LiarEvent } from './kinds';
import { seeded } from './lies';
import { GREEDY_SLOTS, LyingRunner } from './lying-runner';
import { rawLiar, takeover } from './raw-attacks';

const emit = (e: LiarEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);

async function main(): Promise<(() => Promise<void>) | number> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string' },
      kind: { type: 'string' },
      state: { type: 'string' },
      seed: { type: 'string' },
      'turn-file': { type: 'string' },
      'lie-rate': { type: 'string' },
      'victim-state': { type: 'string' },
    },
  });
  const { server, kind, state } = values;
  if (!server || !kind || !isLiarKind(kind) || (!state && kind !== 'takeover')) {
    console.error(
      'usage: liar.ts --server URL --kind KIND --state FILE [--seed N] [--turn-file FILE] [--lie-rate F]',
    );
    return 2;
  }
  const random = seeded(Number(values.seed ?? 1));
  if (kind === 'takeover') {
    const victimState = values['victim-state'];
    if (!victimState) {
      console.error('--kind takeover needs --victim-state FILE');
      return 2;
    }
    const { volunteerId } = JSON.parse(readFileSync(victimState, 'utf8')) as { volunteerId: string };
    const stop = takeover(server, volunteerId, emit);
    return async () => stop();
  }
  const identity = new FileIdentityStore(state!, (line) => emit({ event: 'log', line }));
  if (kind === 'replay' || kind === 'unassigned') {
    const stop = rawLiar(kind, server, identity, random, emit);
    return async () => stop();
  }

  // Only the turncoat and the tamperer load onnxruntime (the others start faster without it).
  const turnFile = values['turn-file'];
  const honestRunner =
    kind === 'turncoat' || kind === 'tamper'
      ? new (await import('../../apps/agent/src/runner-pool')).NodeRunnerPool({
          slots: GREEDY_SLOTS,
          threads: 1,
        })
      : undefined;
  const runner = new LyingRunner({
    kind,
    random,
    honestRunner,
    shouldTurn: () => turnFile !== undefined && existsSync(turnFile),
    lieRate: Number(values['lie-rate'] ?? 0.1),
    onTurn: (honestResults) => emit({ event: 'turned', at: Date.now(), honestResults }),
  });
  const taskOf = new Map<string, string>();
  const client = new VolunteerClient({
    server,
    kind: 'agent',
    runtime: `liar:${kind}`,
    runner,
    identity,
    socketOptions: { transports: ['websocket'] },
    log: (line) => {
      // The client logs refused results ("result <id> rejected: <code> …") and does not emit them.
      const m = /^result (\S+) rejected: (\S+)/.exec(line);
      if (m) {
        const [, assignmentId = '', code = ''] = m;
        emit({
          event: 'sent',
          at: Date.now(),
          taskId: taskOf.get(assignmentId) ?? '',
          assignmentId,
          lie: true,
          what: 'result',
          answer: code,
        });
      }
    },
  });
  client.on('identity', ({ volunteerId, displayName }) =>
    emit({ event: 'identity', kind, volunteerId, displayName }),
  );
  client.on('assigned', (t) => taskOf.set(t.assignmentId, t.taskId));
  client.on('result', (r) =>
    emit({
      event: 'sent',
      at: Date.now(),
      taskId: r.taskId,
      assignmentId: r.assignmentId,
      lie: runner.lied.get(r.assignmentId) ?? false,
      what: 'result',
      answer: r.duplicate ? 'duplicate' : r.accepted ? 'accepted' : 'not_accepted',
    }),
  );
  client.on('failed', (f) => {
    if (f.code !== 'undecodable') return;
    emit({
      event: 'sent',
      at: Date.now(),
      taskId: f.taskId,
      assignmentId: f.assignmentId,
      lie: true,
      what: 'undecodable',
      answer: 'reported',
    });
  });
  void client.start();
  return () => client.close();
}

const stop = await main();
if (typeof stop === 'number') process.exit(stop);
const shutdown = () => void stop().finally(() => process.exit(0));
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
