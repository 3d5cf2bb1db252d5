/**
 * One source of truth for counts (issue 20): a task the server referee settled counts in `/live`
 * (results per minute, result latency) and in `tabgrid_tasks_total{outcome="done"}` like one a
 * volunteer's result settled; and "online" means able to take work (PROTOCOL.md rule L11): a
 * paused volunteer is online but not ready. Real server, real agent, real Socket.IO.
 */
import { NAMESPACES, PROTOCOL_VERSION, type LiveSnapshot } from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { FakeVolunteer } from './support/fake-volunteer';
import { until } from './support/harness';
import { metric, serverPerTest } from './support/server-rig';

const rig = serverPerTest();
const { fakes, honestAgent } = rig;

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

describe('live counts', () => {
  it('a task the referee settled counts in results per minute, latency and tasks_total', async () => {
    const server = await rig.start({
      verification: true,
      distinctNetworks: true,
      refereeAfterMs: 400,
      refereeBudget: 50,
    });
    // One new volunteer: its results wait for a replica nobody else can run; the referee settles.
    expect((await snapshot(server.url)).stats.volunteers).toMatchObject({ online: 0, ready: 0 });
    await honestAgent(server.url);
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
    const server = await rig.start();
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
