/**
 * The join burst (issue 18): N volunteers join a full queue in one event-loop turn (as when a poll
 * phase reads thousands of handshakes); how long the loop stalls while their 2N offers are made
 * and written. In-process server (SQLite, verification off), in-memory volunteer sockets that ack
 * every offer at once and never answer; the stall is perf_hooks `monitorEventLoopDelay` max (1 ms
 * resolution) from just before the joins until every offer is acked; `joinTurnMs` is the turn
 * that handled the joins, timed directly.
 *
 *   npm run bench -- --only=join-burst   (5,000 volunteers, 3 rounds; --quick: 1,000, 1 round;
 *   TABGRID_BENCH_JOIN_VOLUNTEERS / _ROUNDS override)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import type { VolunteerSocket } from '../../apps/server/src/scheduling/scheduler';
import { startTestServer } from '../../apps/server/test/support/harness';

export interface JoinBurstRound {
  volunteers: number;
  stallMs: number;
  joinTurnMs: number;
  seconds: number;
}

function memorySocket(volunteerId: string, acked: () => void): VolunteerSocket {
  return {
    data: { volunteerId },
    disconnected: false,
    emit: (event: string, _payload: unknown, ack?: (answer: unknown) => void) => {
      if (event === 'task:assign')
        setImmediate(() => {
          acked();
          ack?.({ ok: true, data: { accepted: true } });
        });
      return true;
    },
    disconnect: () => undefined,
  } as unknown as VolunteerSocket;
}

async function round(volunteers: number): Promise<JoinBurstRound> {
  const tasks = volunteers * 2;
  const server = await startTestServer({
    maxQueued: tasks + 100,
    maxQueuedPerKey: tasks + 100,
    maxVolunteersPerIp: 0,
  });
  try {
    const bytes = new Uint8Array(
      await sharp({ create: { width: 64, height: 48, channels: 3, background: '#6a8' } })
        .jpeg()
        .toBuffer(),
    );
    for (let j = 0; j < tasks / 100; j++) {
      const files = Array.from({ length: 100 }, (_, i) => ({ name: `p${j}-${i}.jpg`, bytes }));
      const res = await server.upload(files);
      if (res.status !== 201) throw new Error(`upload ${res.status}: ${await res.text()}`);
    }
    let acks = 0;
    let allAcked!: () => void;
    const done = new Promise<void>((r) => (allAcked = r));
    const acked = () => {
      if (++acks === tasks) allAcked();
    };
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    // Let the monitor's timer run first: a block in the very turn that enabled it goes unseen.
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    for (let i = 0; i < volunteers; i++) server.scheduler.connect(`j${i}`, memorySocket(`j${i}`, acked));
    const joinTurnMs = performance.now() - t0;
    await done;
    const seconds = (performance.now() - t0) / 1000;
    h.disable();
    return {
      volunteers,
      stallMs: Math.round(h.max / 1e5) / 10,
      joinTurnMs: Math.round(joinTurnMs),
      seconds: Math.round(seconds * 10) / 10,
    };
  } finally {
    await server.close();
  }
}

/** `--only=join-burst`: the rounds, one after another. */
export async function joinBurst(quick: boolean): Promise<JoinBurstRound[]> {
  const volunteers = Number(process.env.TABGRID_BENCH_JOIN_VOLUNTEERS ?? (quick ? 1000 : 5000));
  const rounds = Number(process.env.TABGRID_BENCH_JOIN_ROUNDS ?? (quick ? 1 : 3));
  const out: JoinBurstRound[] = [];
  for (let r = 0; r < rounds; r++) out.push(await round(volunteers));
  return out;
}

export function renderJoinBurst(rounds: JoinBurstRound[]): string[] {
  return [
    '## Join burst (--only=join-burst)',
    '',
    '| volunteers | turn that handled the joins (ms) | longest loop stall (ms) | all offers acked (s) |',
    '| --- | --- | --- | --- |',
    ...rounds.map((r) => `| ${r.volunteers} | ${r.joinTurnMs} | ${r.stallMs} | ${r.seconds} |`),
  ];
}
