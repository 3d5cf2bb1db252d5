import { afterEach, describe, expect, it } from 'vitest';
import { FakeVolunteer } from './support/fake-volunteer';
import { bearer, startTestServer, until, type TestServer } from './support/harness';

let server: TestServer;
let volunteer: FakeVolunteer | null = null;

afterEach(async () => {
  volunteer?.close();
  volunteer = null;
  await server?.close();
});

/** The value of one sample line, e.g. `tabgrid_ack_latency_seconds_count`. */
function sample(text: string, name: string, labels = ''): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels} `)) return Number(line.slice(name.length + labels.length + 1));
  }
  return null;
}

describe('GET /metrics', () => {
  it('counts a completed task and its ack latency in Prometheus text format', async () => {
    server = await startTestServer();
    volunteer = await FakeVolunteer.connect(server.url, { id: 'v-metrics' });
    const job = await server.createJob(['bus.jpg']);
    await server.waitForJob(job.id);
    await until(() => volunteer!.results.length === 1, 5000, 'the result ack');

    const res = await fetch(`${server.url}/metrics`, { headers: bearer() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(sample(text, 'tabgrid_ack_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tabgrid_tasks_total', '{outcome="done",reason=""}')).toBe(1);
    expect(sample(text, 'tabgrid_result_latency_seconds_count')).toBe(1);
    expect(sample(text, 'tabgrid_inference_seconds_count')).toBe(1);
    expect(sample(text, 'tabgrid_volunteers_online')).toBe(1);
    expect(sample(text, 'tabgrid_queue_depth')).toBe(0);
    expect(text).toContain('tabgrid_dispatch_overhead_seconds_bucket');
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
  });

  it('counts a requeue by reason when a volunteer leaves holding a task', async () => {
    server = await startTestServer();
    volunteer = await FakeVolunteer.connect(server.url, { id: 'v-silent', behaviour: 'ack-then-silent' });
    await server.createJob(['bus.jpg']);
    await until(() => volunteer!.held.size === 1, 5000, 'the assignment');
    volunteer.close();
    volunteer = null;
    let text = '';
    await until(async () => {
      text = await (await fetch(`${server.url}/metrics`, { headers: bearer() })).text();
      return sample(text, 'tabgrid_tasks_total', '{outcome="requeued",reason="volunteer_left"}') === 1;
    });
    expect(sample(text, 'tabgrid_volunteers_online')).toBe(0);
    expect(sample(text, 'tabgrid_queue_depth')).toBe(1);
  });
});
