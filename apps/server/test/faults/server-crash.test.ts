/**
 * Fault injection with real processes (item 2): SIGKILL the server in the middle
 * of a 50-photo batch and start it again on the same data directory and port.
 * The running agents reconnect by themselves, nothing accepted is lost, the tasks
 * that were running (their leases in the server's memory only, never written) run
 * again, stored results stay stored, and the
 * batch completes with the detections of an undisturbed run. Reports the
 * recovery time: restart -> first new assignment.
 */
import type { Detection } from '@tabgrid/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_THREADS,
  assignments,
  batchPhotos,
  checkBatch,
  referenceDetections,
  statusCounts,
  tasks,
  uploadPhotos,
} from './batch';
import { bearer } from '../support/harness';
import { freePort, killAll, poll, startAgentProcess, startServerProcess, tmpDir } from '../support/processes';

const PHOTOS = 50;

let reference: Map<string, Detection[]>;

/** Tasks running now, as the server's API shows them (live leases are in its memory, not in SQLite). */
async function runningTasks(url: string, jobIds: string[]): Promise<string[]> {
  const running: string[] = [];
  for (const id of jobIds) {
    const res = await fetch(`${url}/api/jobs/${id}`, { headers: bearer() });
    const view = (await res.json()) as { tasks: { id: string; status: string }[] };
    running.push(...view.tasks.filter((t) => t.status === 'running').map((t) => t.id));
  }
  return running;
}

beforeAll(async () => {
  reference = await referenceDetections();
});

afterAll(async () => {
  await killAll();
});

describe('server killed mid-batch (real processes)', () => {
  it('recovers on the same data dir: nothing accepted is lost, agents reconnect, the batch completes', async () => {
    const dataDir = tmpDir('tabgrid-faults-crash-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { TABGRID_LEASE_MS: '3000' };
    let server = await startServerProcess('server', { port, dataDir, env });
    const context = () =>
      `server output:\n${server.output()}\ncounts: ${JSON.stringify(statusCounts(dataDir))}`;

    const photos = await batchPhotos(PHOTOS);
    const accepted: { id: string; tasks: { id: string }[] }[] = [];
    for (let i = 0; i < PHOTOS; i += 10) {
      const res = await uploadPhotos(url, photos.slice(i, i + 10));
      expect(res.status, res.body).toBe(201);
      accepted.push(res.job!);
    }
    const agents = ['agent-a', 'agent-b'].map((id) =>
      startAgentProcess(id, url, ['--threads', String(AGENT_THREADS)]),
    );

    // Mid-batch: some results stored, some leases live.
    const jobIds = accepted.map((j) => j.id);
    await poll(() => (statusCounts(dataDir).done ?? 0) >= 10, 90_000, '10 results', context, 5);
    for (const deadline = Date.now() + 30_000; (await runningTasks(url, jobIds)).length === 0;) {
      if (Date.now() > deadline) throw new Error(`no live lease after 10 results\n${context()}`);
    }
    // An upload races the crash: if it got 201 it must complete; otherwise it may or may not exist.
    const racing = uploadPhotos(url, photos.slice(0, 3)).catch((err: unknown) => ({
      status: 0,
      job: null,
      body: String(err),
    }));
    const runningBefore = await runningTasks(url, jobIds);
    await server.kill('SIGKILL');
    const raced = await racing;

    // What the crashed server left on disk.
    const doneBefore = new Map(
      tasks(dataDir)
        .filter((t) => t.status === 'done')
        .map((t) => [t.id, { result: t.result_json, by: t.result_assignment_id }]),
    );
    // Offers, acks and heartbeats wrote nothing: no lease is in SQLite, the running tasks are `queued` there.
    expect(runningBefore.length, context()).toBeGreaterThan(0);
    expect(assignments(dataDir).filter((a) => a.status === 'offered' || a.status === 'acked')).toEqual([]);
    const queuedAtCrash = new Set(
      tasks(dataDir)
        .filter((t) => t.status === 'queued')
        .map((t) => t.id),
    );
    const liveBefore = runningBefore.filter((id) => !doneBefore.has(id));
    for (const id of liveBefore) expect(queuedAtCrash.has(id), id).toBe(true);
    expect(agents.every((a) => a.alive)).toBe(true);

    const restartedAt = Date.now();
    server = await startServerProcess('server (restarted)', { port, dataDir, env });
    const healthyMs = Date.now() - restartedAt;
    const firstAssignment = await poll(
      () =>
        assignments(dataDir)
          .filter((a) => a.assigned_at >= restartedAt)
          .sort((a, b) => a.assigned_at - b.assigned_at)[0],
      60_000,
      'the first assignment after the restart',
      context,
      5,
    );
    const recoveryMs = firstAssignment.assigned_at - restartedAt;

    await poll(
      () => {
        const c = statusCounts(dataDir);
        return (c.queued ?? 0) + (c.running ?? 0) === 0;
      },
      120_000,
      'the batch to finish after the restart',
      () => `${context()}\n${agents.map((a) => `${a.name}:\n${a.output()}`).join('\n')}`,
    );

    // The same agent processes (never restarted) reconnected by themselves: each logs a second
    // "connected" line. (Which of them does the remaining work depends on their reconnect backoff.)
    const connects = (out: string) => out.split('\n').filter((l) => / connected to /.test(l)).length;
    for (const a of agents) {
      await poll(
        () => connects(a.output()) >= 2,
        60_000,
        `${a.name} to reconnect`,
        () => a.output(),
      );
    }
    expect(agents.every((a) => a.alive)).toBe(true);
    const after = assignments(dataDir).filter((a) => a.assigned_at >= restartedAt);
    expect(after.every((x) => agents.some((a) => a.volunteerId() === x.volunteer_id))).toBe(true);

    // Tasks running at the crash ran again after it, and their result came from after the restart.
    const all = new Map(tasks(dataDir).map((t) => [t.id, t]));
    const rows = new Map(assignments(dataDir).map((a) => [a.id, a]));
    for (const id of liveBefore) {
      expect(all.get(id)?.status).toBe('done');
      expect(rows.get(all.get(id)!.result_assignment_id!)!.assigned_at).toBeGreaterThanOrEqual(restartedAt);
    }
    // Results stored before the crash are still there, unchanged.
    for (const [id, before] of doneBefore) {
      expect(all.get(id)).toMatchObject({
        status: 'done',
        result_json: before.result,
        result_assignment_id: before.by,
      });
    }
    // Every accepted upload is complete; nothing else appeared but (maybe) the racing one.
    for (const job of accepted) for (const t of job.tasks) expect(all.get(t.id)?.status).toBe('done');
    if (raced.status === 201) for (const t of raced.job!.tasks) expect(all.get(t.id)?.status).toBe('done');
    expect([PHOTOS, PHOTOS + 3]).toContain(all.size);
    if (raced.status === 201) expect(all.size).toBe(PHOTOS + 3);

    const result = checkBatch(dataDir, reference);
    console.log(
      `[faults:crash] results before the crash: ${doneBefore.size}, live leases at the crash: ${liveBefore.length}, ` +
        `racing upload: ${raced.status || raced.body.slice(0, 60)}, tasks: ${all.size}, done: ${result.done}, ` +
        `duplicates: ${result.duplicates}, restart -> healthy: ${healthyMs} ms, ` +
        `restart -> first new assignment: ${recoveryMs} ms (to ${firstAssignment.volunteer_id})`,
    );
    expect(result.problems, context()).toEqual([]);
    expect(result.duplicates).toBe(0);

    await Promise.all(agents.map((a) => a.kill('SIGTERM')));
    await server.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 180_000);
});
