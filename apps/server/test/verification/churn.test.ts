/**
 * Issue 17 A, rule T13: only honest outcomes spend a task's attempts. Each attack of the issue as
 * an attacker runs it, over real sockets from distinct loopback networks (`TABGRID_DISTINCT_NETWORKS`
 * on: 127.0.1.x and 127.0.2.x are different /24s), against a real server with the real referee:
 * churning identities (take a task, ack it, disconnect, again) and untrusted `inference_failed`
 * reports fail no task; with no honest volunteer online the referee finishes them all.
 */
import { PROTOCOL_VERSION, type TaskAssignment, type JobView } from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../agent/src/agent';
import type { ServerConfig } from '../../src/config';
import { agentFrom } from '../edges/net';
import { startHonestAgent } from '../support/honest-agent';
import { startTestServer, until, type TestServer } from '../support/harness';
import { sampleImages } from '../../../../scripts/assets';

const ATTACKED: Partial<ServerConfig> = {
  verification: true,
  distinctNetworks: true,
  canaryPercent: 0,
  refereeBudget: 50,
};

let server: TestServer | undefined;
const agents: Agent[] = [];
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await server?.close();
  server = undefined;
});

/** What the attackers did. */
interface Tally {
  identities: number;
  taken: number;
}

/**
 * One attacker on `address`: a fresh identity each round that takes the tasks offered to it, acks
 * them, and then disconnects (`churn`) or reports `inference_failed` on each (`decline`), until
 * stopped.
 */
function attacker(url: string, address: string, mode: 'churn' | 'decline', tally: Tally) {
  let stopped = false;
  const round = () =>
    new Promise<void>((resolve) => {
      const socket = io(`${url}/volunteer`, {
        auth: { protocolVersion: PROTOCOL_VERSION, kind: 'agent', slots: 2 },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        agent: agentFrom(address) as never,
      });
      let timer = setTimeout(() => finish(), 3000); // nothing offered: try again
      const finish = () => {
        clearTimeout(timer);
        socket.close();
        resolve();
      };
      socket.on('hello', () => tally.identities++);
      socket.on('connect_error', () => {
        clearTimeout(timer);
        timer = setTimeout(finish, 100);
      });
      socket.on('task:assign', (a: TaskAssignment, ack) => {
        ack({ ok: true, data: { accepted: true } });
        tally.taken++;
        if (mode === 'decline') {
          socket.emit(
            'task:error',
            { assignmentId: a.assignmentId, code: 'inference_failed', message: 'no' },
            () => {},
          );
          return;
        }
        clearTimeout(timer);
        timer = setTimeout(finish, 30); // take what else comes in the same breath, then leave
      });
    });
  const running = (async () => {
    while (!stopped) await round();
  })();
  stops.push(async () => {
    stopped = true;
    await running;
  });
}

/** Polls the job until it finishes; each task's time from upload to its end (ms). */
async function finishTimes(s: TestServer, jobId: string, timeoutMs: number) {
  const started = Date.now();
  const ends = new Map<string, number>();
  let job: JobView;
  for (;;) {
    job = await s.getJob(jobId);
    for (const t of job.tasks) {
      if ((t.status === 'done' || t.status === 'failed') && !ends.has(t.id))
        ends.set(t.id, Date.now() - started);
    }
    if (job.status === 'done' || job.status === 'failed' || Date.now() - started > timeoutMs) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { job, times: [...ends.values()].sort((a, b) => a - b) };
}

const photos = () => sampleImages().map((i) => i.name);
const p95 = (sorted: number[]) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] ?? NaN;
const failed = (job: JobView) => job.tasks.filter((t) => t.status === 'failed');

describe('churning identities fail no task (rule T13)', () => {
  it('8 churning identities from one address fail 0 tasks of a 9-task job, with an honest volunteer online', async () => {
    server = await startTestServer(ATTACKED);
    const s = server;
    await startHonestAgent(s.url, agents); // from 127.0.0.1: another /24
    const tally: Tally = { identities: 0, taken: 0 };
    for (let i = 0; i < 8; i++) attacker(s.url, '127.0.1.1', 'churn', tally);
    await until(() => tally.identities >= 8, 30_000, 'the attackers connected'); // before the job
    const job = await s.createJob(photos().slice(0, 9));
    const { job: end } = await finishTimes(s, job.id, 90_000);
    console.log(
      `churn, one address, honest online: ${tally.identities} identities took ${tally.taken} tasks; ${failed(end).length} of ${end.tasks.length} failed`,
    );
    expect(tally.taken).toBeGreaterThan(0);
    expect(failed(end).map((t) => t.error?.code)).toEqual([]);
    expect(end.status).toBe('done');
  }, 120_000);

  it('untrusted inference_failed reports fail 0 tasks', async () => {
    server = await startTestServer(ATTACKED);
    const s = server;
    const tally: Tally = { identities: 0, taken: 0 };
    for (let i = 0; i < 8; i++) attacker(s.url, '127.0.1.1', 'decline', tally);
    await until(() => tally.identities >= 4, 30_000, 'the attackers connected');
    const job = await s.createJob(photos().slice(0, 3));
    const { job: end } = await finishTimes(s, job.id, 60_000);
    console.log(
      `declines, one address: ${tally.taken} tasks declined; ${failed(end).length} of ${end.tasks.length} failed`,
    );
    expect(tally.taken).toBeGreaterThan(0);
    expect(failed(end).map((t) => t.error?.code)).toEqual([]);
    expect(end.tasks.every((t) => t.status === 'done' && t.verification === 'refereed')).toBe(true);
  }, 90_000);

  it('8 churners from 8 networks and no honest volunteer: the referee finishes every task', async () => {
    server = await startTestServer(ATTACKED);
    const s = server;
    const tally: Tally = { identities: 0, taken: 0 };
    for (let i = 1; i <= 8; i++) attacker(s.url, `127.0.${i}.1`, 'churn', tally);
    await until(() => tally.identities >= 4, 30_000, 'the attackers connected');
    const job = await s.createJob(photos().slice(0, 9));
    const { job: end, times } = await finishTimes(s, job.id, 90_000);
    console.log(
      `churn, 8 networks, no honest volunteer: ${tally.identities} identities took ${tally.taken} tasks; ` +
        `${failed(end).length} of ${end.tasks.length} failed; finished in p50 ${times[Math.floor(times.length / 2)]} ms, p95 ${p95(times)} ms`,
    );
    expect(tally.taken).toBeGreaterThan(0);
    expect(failed(end).map((t) => t.error?.code)).toEqual([]);
    expect(end.tasks.every((t) => t.status === 'done' && t.verification === 'refereed')).toBe(true);
  }, 120_000);

  it('a task the referee cannot run fails for that reason, not for the attackers', async () => {
    // No model for the referee: every run it makes fails.
    server = await startTestServer(ATTACKED, { refereeModel: '/nonexistent/referee-model.onnx' });
    const s = server;
    const tally: Tally = { identities: 0, taken: 0 };
    for (let i = 0; i < 4; i++) attacker(s.url, '127.0.1.1', 'decline', tally);
    await until(() => tally.identities >= 4, 30_000, 'the attackers connected');
    const job = await s.createJob(photos().slice(0, 1));
    const { job: end } = await finishTimes(s, job.id, 30_000);
    expect(end.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'inference_failed' } });
    expect(end.tasks[0]!.error!.message).toMatch(/referee could not run it/);
  }, 60_000);
});
