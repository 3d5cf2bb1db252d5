/**
 * Fault injection with real processes (item 1): a server process, real headless
 * agents, and a 50-photo batch during which agents are killed (SIGKILL) or
 * stopped (SIGTERM) in the middle of their work 20 times. Every photo must be
 * done exactly once, with the detections of an undisturbed run.
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
  uploadPhotos,
} from './batch';
import { freePort, killAll, poll, startAgentProcess, startServerProcess, tmpDir } from '../support/processes';

const PHOTOS = 50;
const KILLS = 20;
const LANES = 2;

let reference: Map<string, Detection[]>;

beforeAll(async () => {
  reference = await referenceDetections();
});

afterAll(async () => {
  await killAll();
});

describe('volunteers killed mid-inference (real processes)', () => {
  it(`completes a ${PHOTOS}-photo batch exactly once while ${KILLS} agents are killed mid-task`, async () => {
    const dataDir = tmpDir('tabgrid-faults-kill-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = await startServerProcess('server', { port, dataDir, env: { TABGRID_LEASE_MS: '3000' } });
    const context = () =>
      `server output:\n${server.output()}\ncounts: ${JSON.stringify(statusCounts(dataDir))}`;

    const photos = await batchPhotos(PHOTOS);
    for (let i = 0; i < PHOTOS; i += 10) {
      const res = await uploadPhotos(url, photos.slice(i, i + 10));
      expect(res.status, res.body).toBe(201);
    }

    let spawned = 0;
    let interrupting = 0; // kills that ended at least one live lease
    let attempted = 0;
    const interruptedLeases: string[] = [];
    const signals: Record<string, number> = {};
    const unfinished = () => {
      const c = statusCounts(dataDir);
      return (c.queued ?? 0) + (c.running ?? 0);
    };

    /** Starts a victim, lets it take work, kills it while it holds leases; true if that interrupted work. */
    const killOne = async (k: number): Promise<boolean> => {
      const id = `victim-${++spawned}`;
      const agent = startAgentProcess(id, url, ['--threads', String(AGENT_THREADS)]);
      // Each victim first completes 1 or 2 tasks, then is killed while it holds the next ones. (Killing
      // victims before they complete anything would hit the same requeued front-of-queue tasks every
      // time and exhaust their maxAttempts (10): that is policy, not what this test is about.)
      const resultsFirst = 1 + (k % 2);
      try {
        await poll(
          () => {
            if (!agent.alive) throw new Error(`${id} exited early:\n${agent.output()}`);
            if (unfinished() === 0) return 'batch finished';
            // Live leases are in the server's memory only: after a result an agent holds its next
            // task (it prefetches), and whether the kill ended one shows in the rows written then.
            const mine = assignments(dataDir).filter((a) => a.volunteer_id === agent.volunteerId());
            const results = mine.filter((a) => a.status === 'completed').length;
            return results >= resultsFirst && unfinished() > 0 && 'holding work after its results';
          },
          60_000,
          `${id} to hold a lease`,
          () => `${context()}\n${id} output:\n${agent.output()}`,
          10,
        );
        const signal: NodeJS.Signals = k % 3 === 0 ? 'SIGTERM' : 'SIGKILL';
        attempted++;
        await agent.kill(signal);
        signals[signal] = (signals[signal] ?? 0) + 1;
        // The server sees the connection close and hands the leases back at once, writing their rows.
        const ended = () =>
          assignments(dataDir).filter(
            (a) => a.volunteer_id === agent.volunteerId() && a.outcome === 'volunteer_left',
          );
        const mine = await poll(() => ended().length > 0 && ended(), 5_000, `${id}'s leases to end`).catch(
          () => ended(), // it held nothing when killed
        );
        const released = mine.filter((a) => a.outcome === 'volunteer_left');
        interruptedLeases.push(...released.map((a) => a.id));
        console.log(`[faults:kills] ${id} (${signal}): leases it held ended: ${released.length}`);
        return released.length > 0;
      } finally {
        await agent.kill('SIGKILL');
      }
    };

    // LANES victims at a time, until KILLS kills have interrupted live work.
    await Promise.all(
      Array.from({ length: LANES }, async () => {
        while (interrupting < KILLS && unfinished() > 0) {
          if (await killOne(attempted)) interrupting++;
        }
      }),
    );
    console.log(
      `[faults:kills] kill signals sent: ${attempted} (${JSON.stringify(signals)}), ` +
        `kills that interrupted live leases: ${interrupting}, leases interrupted: ${interruptedLeases.length}, ` +
        `tasks not yet done after the kills: ${unfinished()}`,
    );
    expect(interrupting, context()).toBeGreaterThanOrEqual(KILLS);

    // Two undisturbed agents finish the batch.
    const finishers = ['finisher-1', 'finisher-2'].map((id) =>
      startAgentProcess(id, url, ['--threads', String(AGENT_THREADS)]),
    );
    await poll(
      () => unfinished() === 0,
      120_000,
      'the batch to finish',
      () => [context(), ...finishers.map((f) => `${f.name}:\n${f.output()}`)].join('\n'),
    );

    const result = checkBatch(dataDir, reference);
    const leases = assignments(dataDir);
    console.log(
      `[faults:kills] tasks done: ${result.done}/${PHOTOS}, duplicates: ${result.duplicates}, ` +
        `assignments: ${leases.length}, max attempts on one task: ${result.maxAttempts}, ` +
        `mismatches vs reference: ${result.problems.length}`,
    );
    expect(result.problems, context()).toEqual([]);
    expect(result.done).toBe(PHOTOS);
    expect(result.duplicates).toBe(0);
    // Every interrupted lease really was re-run by someone else (its task is done by another assignment).
    for (const id of interruptedLeases) {
      const a = leases.find((l) => l.id === id)!;
      expect(a.status).toBe('released');
    }
    expect(server.alive).toBe(true);
    await Promise.all(finishers.map((f) => f.kill('SIGTERM')));
    await server.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 180_000);
});
