/**
 * The join burst (issue 18): when many volunteers join a full queue at once, their offers are
 * spread over event-loop turns, never all made in the turn that handled the joins. Deterministic:
 * it counts offers recorded in one synchronous turn, not time. The server, store and dispatcher
 * are real; the joining volunteers are in-memory sockets that ack every offer and never answer
 * (thousands of real sockets could not all be handled in one turn on purpose).
 */
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { VolunteerSocket } from '../src/scheduling/scheduler';
import { startTestServer, until, type TestServer } from './support/harness';

const JOINING = 200;
const TASKS = 500;
/** Offers one turn may make: the dispatcher's PUMP_BATCH (64), one more for a paired replica. */
const MAX_IN_ONE_TURN = 65;

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A connected volunteer's socket as the scheduler uses it: acks every offer at once. */
function memorySocket(volunteerId: string): VolunteerSocket {
  return {
    data: { volunteerId },
    disconnected: false,
    emit: (event: string, _payload: unknown, ack?: (answer: unknown) => void) => {
      if (event === 'task:assign') setImmediate(() => ack?.({ ok: true, data: { accepted: true } }));
      return true;
    },
    disconnect: () => undefined,
  } as unknown as VolunteerSocket;
}

describe('the join burst', () => {
  it(`${JOINING} volunteers joining a full queue in one turn get their offers over several turns`, async () => {
    server = await startTestServer({ maxQueued: TASKS + 100 });
    const s = server;
    const bytes = new Uint8Array(
      await sharp({ create: { width: 64, height: 48, channels: 3, background: '#6a8' } })
        .jpeg()
        .toBuffer(),
    );
    for (let j = 0; j < TASKS / 100; j++) {
      const files = Array.from({ length: 100 }, (_, i) => ({ name: `p${j}-${i}.jpg`, bytes }));
      expect((await s.upload(files)).status).toBe(201);
    }
    expect((await s.store.counts()).queued).toBe(TASKS);

    // Every join in one synchronous turn, as when a poll phase reads thousands of handshakes.
    for (let i = 0; i < JOINING; i++) s.scheduler.connect(`burst${i}`, memorySocket(`burst${i}`));
    // SQLite's async counts() reads synchronously when called: this is the join turn's state.
    const inTheJoinTurn = (await s.store.counts()).running;

    expect(inTheJoinTurn).toBeGreaterThan(0);
    expect(inTheJoinTurn).toBeLessThanOrEqual(MAX_IN_ONE_TURN);
    // The rest follow in later turns: each volunteer gets its two (one running, one prefetched).
    const wanted = JOINING * s.scheduler.inFlightLimit();
    await until(async () => (await s.store.counts()).running === wanted, 20_000, 'every offer of the burst');
  }, 60_000);
});
