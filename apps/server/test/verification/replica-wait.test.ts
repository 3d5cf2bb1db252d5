/**
 * Rule V5's replica wait, with real parts (a real server, the referee in a worker thread, a real
 * in-process agent, scripted volunteers over real Socket.IO): a result no one else could replicate
 * goes to the referee at once; a volunteer who can take the replica is still waited for, and one
 * who resumes later still takes it. The wait here (20 s) is far longer than any test needs, so a
 * test that waited for it would time out.
 */
import { describe, expect, it } from 'vitest';
import type { ServerConfig } from '../../src/config';
import { FakeVolunteer } from '../support/fake-volunteer';
import { until } from '../support/harness';
import { sampleImages } from '../../../../scripts/assets';
import { serverPerTest, VERIFYING } from '../support/server-rig';

const LONG_WAIT_MS = 20_000;

const WAITING: Partial<ServerConfig> = { ...VERIFYING, refereeAfterMs: LONG_WAIT_MS, canaryPercent: 0 };

const rig = serverPerTest();
const { fakes, honestAgent } = rig;

async function fake(url: string, id: string, paused = false): Promise<FakeVolunteer> {
  const f = await FakeVolunteer.connect(url, { id });
  fakes.push(f);
  if (paused) await setAccepting(f, false);
  return f;
}

const setAccepting = (f: FakeVolunteer, accepting: boolean) =>
  f.socket.timeout(5000).emitWithAck('volunteer:state', { accepting });

const photo = () => sampleImages()[0]!.name;

describe('the replica wait (V5)', () => {
  it('a lone volunteer’s photo goes to the referee at once, not after the replica wait', async () => {
    const s = await rig.start(WAITING);
    // Connected but paused: it takes no work, so it cannot take the replica either.
    await fake(s.url, 'paused', true);
    await honestAgent(s.url);
    const started = Date.now();
    const job = await s.createJob([photo()]);
    const done = await s.waitForJob(job.id, LONG_WAIT_MS / 2);
    expect(done.tasks[0]).toMatchObject({ status: 'done', verification: 'refereed' });
    expect(Date.now() - started).toBeLessThan(LONG_WAIT_MS / 2);
  }, 60_000);

  it('waits for a volunteer who can take the replica: two agreeing volunteers settle it', async () => {
    const s = await rig.start(WAITING);
    await fake(s.url, 'first');
    await fake(s.url, 'second');
    const job = await s.createJob([photo()]);
    // The scripted results agree with each other, not with the referee: `replicated` proves the
    // referee was not asked at once while a replica could come.
    const done = await s.waitForJob(job.id, LONG_WAIT_MS / 2);
    expect(done.tasks[0]).toMatchObject({ status: 'done', verification: 'replicated', agreeing: 2 });
  }, 60_000);

  it('a volunteer who resumes later still takes the replica', async () => {
    // The referee cannot settle anything (no model): it is asked at once, fails, and retries later.
    const s = await rig.start(WAITING, { refereeModel: '/nonexistent/referee-model.onnx' });
    const first = await fake(s.url, 'first');
    const later = await fake(s.url, 'later', true);
    const job = await s.createJob([photo()]);
    await until(() => first.results.length === 1, 10_000, 'the first result');
    expect(later.assigned).toHaveLength(0);
    await setAccepting(later, true);
    const done = await s.waitForJob(job.id, LONG_WAIT_MS / 2);
    expect(done.tasks[0]).toMatchObject({ status: 'done', verification: 'replicated', agreeing: 2 });
    expect(later.assigned).toHaveLength(1);
  }, 60_000);
});
