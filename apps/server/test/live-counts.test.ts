/**
 * One source of truth for counts (issue 20): a task the server referee settled counts in `/live`
 * (results per minute, result latency) and in `tabgrid_tasks_total{outcome="done"}` like one a
 * volunteer's result settled; and "online" means able to take work (PROTOCOL.md rule L11): a
 * paused volunteer is online but not ready. Real server, real agent, real Socket.IO.
 */
import { NAMESPACES, PROTOCOL_VERSION, type LiveSnapshot } from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/src/agent';
import { FakeVolunteer } from './support/fake-volunteer';
import { bearer, startTestServer, until, type TestServer } from './support/harness';
import { startHonestAgent } from './support/honest-agent';

let server: TestServer | undefined;
const agents: Agent[] = [];
const fakes: FakeVolunteer[] = [];

afterEach(async () => {
  for (const f of fakes.splice(0)) f.close();
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await server?.close();
  server = undefined;
});

/** The snapshot a new `/live` connection gets. */
async function snapshot(url: string): Promise<LiveSnapshot> {
  const socket = io(`${url}${NAMESPACES.live}`, {
    transports: ['websocket'],
    reconnection: false,
    auth: { protocolVersion: PROTOCOL_VERSION },
  });
  try {
    return await new Promise<LiveSnapshot>((resolve, reject) => {
      socket.once('live:snapshot', resolve);
      socket.once('connect_error', reject);
    });
  } finally {
    socket.close();
  }
}

async function metric(s: TestServer, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`, { headers: bearer() })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `) || l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('live counts', () => {
  it('a task the referee settled counts in results per minute, latency and tasks_total', async () => {
    server = await startTestServer({
      verification: true,
      distinctNetworks: true,
      refereeAfterMs: 400,
      refereeBudget: 50,
    });
    // One new volunteer: its results wait for a replica nobody else can run; the referee settles.
    expect((await snapshot(server.url)).stats.volunteers).toMatchObject({ online: 0, ready: 0 });
    await startHonestAgent(server.url, agents);
    expect((await snapshot(server.url)).stats.volunteers).toMatchObject({ online: 1, ready: 1 });
    const job = await server.createJob(['bus.jpg', '000004.jpg']);
    const done = await server.waitForJob(job.id, 60_000);
    expect(done.tasks.map((t) => t.verification)).toEqual(['refereed', 'refereed']);

    const { stats } = await snapshot(server.url);
    expect(stats.tasks.done).toBe(2);
    expect(stats.resultsLastMinute).toBe(2);
    expect(stats.resultLatencyMs.count).toBe(2);
    expect(await metric(server, 'tabgrid_tasks_total', 'outcome="done",reason=""')).toBe(2);
    expect(await metric(server, 'tabgrid_result_latency_seconds_count', '')).toBe(2);
  }, 150_000);

  it('paused volunteers are online but not able to take work', async () => {
    server = await startTestServer();
    const url = server.url;
    for (const id of ['v-paused-1', 'v-paused-2', 'v-ready'])
      fakes.push(await FakeVolunteer.connect(url, { id, behaviour: 'ack-then-silent' }));
    for (const f of fakes.slice(0, 2)) {
      expect(await f.socket.emitWithAck('volunteer:state', { accepting: false })).toMatchObject({ ok: true });
    }
    await server.createJob(['bus.jpg']);
    await until(() => fakes[2]!.held.size === 1, 5000, 'the ready volunteer holds the task');
    const { stats } = await snapshot(url);
    expect(stats.volunteersOnline).toBe(3);
    expect(stats.volunteers).toEqual({ online: 3, ready: 1, working: 1, paused: 2, quarantined: 0 });
  });
});
