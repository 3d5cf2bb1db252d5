/**
 * Every acked result is durable (issue 18: results are written in one group commit per event-loop
 * turn, and acked after it). A server child process, real socket.io-client volunteers answering
 * at once, and `kill -9` the moment the first acks are in, while more results are in flight.
 * Started again on the same data directory, the server has every result it acked `accepted`:
 * its assignment `completed`, its task `done` with that result. Results in flight at the kill
 * may be lost (nothing was promised); their tasks run again.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { volunteerPool } from '../support/fake-volunteer';
import { readImage } from '../support/harness';
import { freePort, killAll, readDb, startServerProcess, tmpDir } from '../support/processes';
import { uploadPhotos } from './batch';

const PHOTOS = 80;
const VOLUNTEERS = 6;
/** Acks seen before the kill. */
const KILL_AFTER = 25;

let url = '';
const pool = volunteerPool(() => url);

afterEach(() => pool.closeAll());
afterAll(async () => {
  await killAll();
});

describe('acked results under SIGKILL (real processes)', () => {
  it('every result acked `accepted` is stored after kill -9 and a restart', async () => {
    const dataDir = tmpDir('tabgrid-faults-acked-');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    let server = await startServerProcess('server', { port, dataDir });
    const bytes = readImage('dog.jpg');
    const photos = Array.from({ length: PHOTOS }, (_, i) => ({
      name: `${i}-dog.jpg`,
      sample: 'dog.jpg',
      bytes,
    }));
    for (let i = 0; i < PHOTOS; i += 20) {
      const res = await uploadPhotos(url, photos.slice(i, i + 20));
      expect(res.status, res.body).toBe(201);
    }

    const volunteers = await Promise.all(
      Array.from({ length: VOLUNTEERS }, (_, i) =>
        pool.join(`v-${i}`, { slots: 2, behaviour: 'ack-then-silent' }),
      ),
    );
    // Each task is answered as soon as it arrives (by hand: a result cut off by the kill is no error).
    const answered = volunteers.map(() => 0);
    const answerNew = () =>
      volunteers.forEach((v, i) => {
        for (; answered[i]! < v.assigned.length; answered[i]!++) {
          v.answer(v.assigned[answered[i]!]!).catch(() => undefined);
        }
      });
    const accepted = () =>
      volunteers.flatMap((v) =>
        v.results
          .filter((r) => (r.ack as { ok?: boolean; data?: { accepted?: boolean } }).data?.accepted === true)
          .map((r) => r.assignmentId),
      );
    const deadline = Date.now() + 60_000;
    while (accepted().length < KILL_AFTER) {
      if (Date.now() > deadline) throw new Error(`only ${accepted().length} acks:\n${server.output()}`);
      answerNew();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await server.kill('SIGKILL');
    const acked = accepted();
    const sent = volunteers.reduce((n, v) => n + v.assigned.length, 0);
    pool.closeAll();

    server = await startServerProcess('server (restarted)', { port, dataDir });
    const stored = readDb(dataDir, (db) => {
      const rows = db
        .prepare<
          [],
          { id: string; status: string; task_status: string; result_assignment_id: string | null }
        >(
          `SELECT a.id, a.status, t.status AS task_status, t.result_assignment_id
             FROM assignments a JOIN tasks t ON t.id = a.task_id`,
        )
        .all();
      return new Map(rows.map((r) => [r.id, r]));
    });
    console.log(
      `[faults:acked] offers received: ${sent}, results acked before the kill: ${acked.length}, ` +
        `assignment rows after the restart: ${stored.size}`,
    );
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER);
    for (const id of acked) {
      expect(stored.get(id), `acked result ${id}`).toMatchObject({
        status: 'completed',
        task_status: 'done',
        result_assignment_id: id,
      });
    }
    await server.kill('SIGTERM');
  }, 120_000);
});
