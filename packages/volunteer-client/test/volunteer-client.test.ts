/**
 * The volunteer client against a real server (real sockets, real SQLite, port
 * 0) with a scripted runner: identity issue/resume/refusal, runner slots,
 * heartbeats that keep leases alive past the lease time, pause, refusal and
 * retry on the per-address limit, replacement by a second connection, model
 * mismatch, and reconnection after a server restart. The real model is covered
 * by the agent and e2e suites.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Detection, ModelInfo } from '@tabgrid/protocol';
import {
  MemoryIdentityStore,
  RunnerError,
  VolunteerClient,
  type Runner,
  type RunnerTask,
  type VolunteerClientOptions,
} from '@tabgrid/volunteer-client';
import { FakeVolunteer } from '../../../apps/server/test/support/fake-volunteer';
import { StoreFaults, sqliteError } from '../../../apps/server/test/support/faulty-store';
import { startTestServer, until, type TestServer } from '../../../apps/server/test/support/harness';

/** A runner that answers one plausible box after `delayMs`, and records concurrency. */
class ScriptedRunner implements Runner {
  running = 0;
  maxRunning = 0;
  loads: ModelInfo[] = [];
  ran: RunnerTask[] = [];
  /** While set, detect waits for it to resolve. */
  gate: Promise<void> | null = null;

  constructor(
    readonly slots = 1,
    private readonly delayMs = 20,
    private readonly loadError: Error | null = null,
  ) {}

  async load(model: ModelInfo) {
    this.loads.push(model);
    if (this.loadError) throw this.loadError;
    return { source: 'scripted' };
  }

  async detect(task: RunnerTask) {
    this.ran.push(task);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.gate) await this.gate;
      const detections: Detection[] = [{ label: 'person', score: 0.9, box: [0, 0, 10, 10] }];
      return { detections, inferenceMs: this.delayMs };
    } finally {
      this.running--;
    }
  }

  async close() {}
}

let server: TestServer | null = null;
const clients: VolunteerClient[] = [];
const fakes: FakeVolunteer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const f of fakes.splice(0)) f.close();
  await server?.close();
  server = null;
});

function client(options: Partial<VolunteerClientOptions> & { runner?: Runner } = {}): VolunteerClient {
  const c = new VolunteerClient({
    server: server!.url,
    kind: 'agent',
    runtime: 'scripted test runner',
    runner: new ScriptedRunner(),
    identity: new MemoryIdentityStore(),
    reconnectDelayMs: [50, 200],
    socketOptions: { transports: ['websocket'] },
    ...options,
  });
  clients.push(c);
  return c;
}

const phase = (c: VolunteerClient, p: string) => until(() => c.state.phase === p, 15_000, `phase ${p}`);

describe('VolunteerClient against a real server', () => {
  it('joins as new, stores the issued identity, and resumes it after a restart (I1, I2)', async () => {
    server = await startTestServer();
    const identity = new MemoryIdentityStore();
    const first = client({ identity });
    await first.start();
    await phase(first, 'ready');
    const { volunteerId, displayName } = first.state;
    expect(volunteerId).toMatch(/^v_[0-9a-f]{32}$/);
    expect(displayName).toMatch(/^[a-z]+-[a-z]+-\d+$/);
    await until(() => identity.current?.token, 5000, 'the token to be stored');
    expect(identity.current).toMatchObject({ volunteerId, displayName });

    await first.stop();
    const second = client({ identity });
    await second.start();
    await phase(second, 'ready');
    expect(second.state.volunteerId).toBe(volunteerId);
    expect(second.state.displayName).toBe(displayName);
  });

  it('connects over WebSocket only, even when the caller asks for long-polling (no sticky sessions needed)', async () => {
    server = await startTestServer();
    const transports: string[] = [];
    server.io.engine.on('connection', (conn: { transport: { name: string } }) =>
      transports.push(conn.transport.name),
    );
    const c = client({ socketOptions: { transports: ['polling'] } });
    await c.start();
    await phase(c, 'ready');
    expect(transports).toEqual(['websocket']);
  });

  it('forgets an identity the server refuses and joins anew', async () => {
    server = await startTestServer();
    const identity = new MemoryIdentityStore({ volunteerId: 'v_stolen', token: 'A'.repeat(43) });
    const c = client({ identity });
    await c.start();
    await phase(c, 'ready');
    expect(c.state.volunteerId).not.toBe('v_stolen');
    expect(identity.current?.volunteerId).toBe(c.state.volunteerId);
  });

  it('runs up to `slots` tasks at once and reports every result', async () => {
    server = await startTestServer();
    const runner = new ScriptedRunner(2, 150);
    const c = client({ runner });
    await c.start();
    await phase(c, 'ready');
    const job = await server.createJob(['bus.jpg', 'dog.jpg', 'bus.jpg', 'dog.jpg']);
    const done = await server.waitForJob(job.id, 30_000);
    expect(done.status).toBe('done');
    expect(runner.maxRunning).toBe(2);
    expect(c.state).toMatchObject({ completed: 4, failed: 0, held: 0 });
    // The runner got the task's image bytes and size.
    expect(runner.ran[0]!.image.byteLength).toBeGreaterThan(1000);
    expect(runner.ran[0]!.width).toBeGreaterThan(0);
  });

  it('sends a result again when the server answers storage_unavailable (T11), and the task completes once', async () => {
    const faults = new StoreFaults();
    server = await startTestServer({ healthCheckMs: 100 }, { wrapStore: faults.wrap });
    const runner = new ScriptedRunner(1, 20);
    const c = client({ runner });
    await c.start();
    await phase(c, 'ready');
    faults.failNext('complete', sqliteError('SQLITE_BUSY'), 2);
    const job = await server.createJob(['bus.jpg']);
    const done = await server.waitForJob(job.id, 30_000);
    expect(done.status).toBe('done');
    expect(faults.thrown.map((t) => t.method)).toEqual(['complete', 'complete']);
    expect(done.tasks[0]!.attempts).toBe(1); // the same lease: resent, not re-run
    expect(runner.ran).toHaveLength(1);
    expect(c.state.reportRetries).toBeGreaterThanOrEqual(2);
    expect(c.state).toMatchObject({ completed: 1, failed: 0 });
  });

  it('keeps a lease alive with heartbeats while a task runs longer than the lease', async () => {
    // Lease 2 s (heartbeat every 1 s): short enough to outlast several times, long enough that a
    // loaded test machine's timer lag does not lapse it.
    server = await startTestServer({ leaseMs: 2000 });
    const runner = new ScriptedRunner(1, 10);
    let release!: () => void;
    runner.gate = new Promise((r) => (release = r));
    const c = client({ runner });
    await c.start();
    await phase(c, 'ready');
    const job = await server.createJob(['dog.jpg']);
    await until(() => runner.running === 1, 10_000, 'the task to start');
    await new Promise((r) => setTimeout(r, 6500)); // > 3 lease times
    release();
    const done = await server.waitForJob(job.id);
    expect(done.tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
    expect(c.state.cancelled).toBe(0);
  });

  it('takes no task while paused, and picks it up on resume', async () => {
    server = await startTestServer();
    const c = client();
    await c.start();
    await phase(c, 'ready');
    await c.setAccepting(false);
    const job = await server.createJob(['dog.jpg']);
    await new Promise((r) => setTimeout(r, 500));
    expect((await server.getJob(job.id)).status).toBe('queued');
    await c.setAccepting(true);
    expect((await server.waitForJob(job.id)).status).toBe('done');
  });

  it('retries a too_many_volunteers refusal with backoff and joins once there is room (I6)', async () => {
    server = await startTestServer({ maxVolunteersPerIp: 1 });
    const occupant = await FakeVolunteer.connect(server.url, { id: 'occupant' });
    fakes.push(occupant);
    const c = client();
    await c.start();
    await until(() => c.state.notice?.includes('too_many_volunteers'), 10_000, 'the refusal notice');
    expect(c.state.phase).toBe('connecting');
    occupant.close();
    await phase(c, 'ready');
  });

  it('stops without reconnecting when another connection takes its identity over (I4)', async () => {
    server = await startTestServer();
    const identity = new MemoryIdentityStore();
    const older = client({ identity });
    await older.start();
    await phase(older, 'ready');
    const newer = client({ identity });
    await newer.start();
    await phase(newer, 'ready');
    await phase(older, 'stopped');
    expect(older.state.notice).toMatch(/elsewhere/);
    await new Promise((r) => setTimeout(r, 500)); // no ping-pong: the older one stays stopped
    expect(older.state.phase).toBe('stopped');
    expect(newer.state.phase).toBe('ready');
    expect(server.scheduler.volunteersOnline).toBe(1);
  });

  it('refuses to work when the runner cannot verify the model (T1)', async () => {
    server = await startTestServer();
    const runner = new ScriptedRunner(1, 10, new RunnerError('model_mismatch', 'sha256 differs'));
    const c = client({ runner });
    const fatal = new Promise<Error>((resolve) => c.on('fatal', resolve));
    await c.start();
    expect((await fatal).name).toBe('ModelMismatchError');
    expect(c.state).toMatchObject({ phase: 'refused', error: 'sha256 differs', connected: false });
    await until(() => server!.scheduler.volunteersOnline === 0, 5000, 'the client to disconnect');
  });

  it('reconnects after a server restart and resumes its identity', async () => {
    server = await startTestServer();
    const { port, dataDir } = server;
    const c = client();
    await c.start();
    await phase(c, 'ready');
    const id = c.state.volunteerId;
    await server.close();
    await until(() => !c.state.connected, 10_000, 'the disconnect');
    server = await startTestServer({ port, dataDir });
    await until(() => c.state.connected && c.state.phase === 'ready', 30_000, 'the reconnect');
    expect(c.state.volunteerId).toBe(id);
    const job = await server.createJob(['dog.jpg']);
    expect((await server.waitForJob(job.id)).status).toBe('done');
  });
});
