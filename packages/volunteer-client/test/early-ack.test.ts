/**
 * PROTOCOL.md T2: the client acks an offer from its packet frame, before the image's frame is in
 * (issue 18: moving a large image into a browser worker was most of a tab's ack time). A bare
 * Socket.IO server writes an offer's two frames by hand and holds the image back.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Server, type Socket } from 'socket.io';
import { Encoder } from 'socket.io-parser';
import { NAMESPACES } from '@tabgrid/protocol';
import { MemoryIdentityStore, VolunteerClient, type Runner } from '@tabgrid/volunteer-client';

/** A runner whose model never loads: offers are held, never run. */
const idleRunner: Runner = {
  slots: 1,
  load: () => new Promise(() => {}),
  detect: () => Promise.reject(new Error('not expected')),
  close: async () => {},
};

const offer = (assignmentId: string) => ({
  assignmentId,
  taskId: `t-${assignmentId}`,
  jobId: 'j1',
  name: 'photo.jpg',
  width: 4,
  height: 3,
  mime: 'image/jpeg',
  imageSha256: 'f'.repeat(64),
  image: new Uint8Array(64 * 1024).fill(7),
  leaseMs: 10_000,
});

/** The frames socket.io writes for `task:assign` with ack id `id`: the packet, then the image. */
function offerFrames(assignmentId: string, id: number): [string, Uint8Array] {
  const [packet, image] = new Encoder().encode({
    type: 2,
    nsp: NAMESPACES.volunteer,
    id,
    data: ['task:assign', offer(assignmentId)],
  });
  return [packet as string, image as Uint8Array];
}

let close: (() => Promise<void>) | null = null;
afterEach(async () => {
  await close?.();
  close = null;
});

async function setUp() {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  const connected = new Promise<Socket>((resolve) => io.of(NAMESPACES.volunteer).on('connection', resolve));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  const client = new VolunteerClient({
    server: `http://127.0.0.1:${port}`,
    kind: 'agent',
    runner: idleRunner,
    identity: new MemoryIdentityStore(),
    socketOptions: { reconnection: false },
  });
  await client.start();
  const socket = await connected;
  /** Every packet the client writes, as text. */
  const written: string[] = [];
  socket.conn.on('message', (data: unknown) => written.push(String(data)));
  close = async () => {
    await client.stop();
    await new Promise<void>((r) => io.close(() => r()));
  };
  return { client, socket, written };
}

const acksFor = (written: string[], id: number) =>
  written.filter((w) => w.startsWith(`3${NAMESPACES.volunteer},${id}[`));

describe('offer ack (T2)', () => {
  it("acks an offer from its packet frame while its image's frame is still held back", async () => {
    const { client, socket, written } = await setUp();
    const [packet, image] = offerFrames('a1', 7);
    socket.conn.write(packet);
    await expect.poll(() => acksFor(written, 7).length, { timeout: 2000 }).toBe(1);
    expect(JSON.parse(acksFor(written, 7)[0]!.slice(`3${NAMESPACES.volunteer},7`.length))).toEqual([
      { ok: true, data: { accepted: true } },
    ]);
    expect(client.state.held).toBe(0); // the task itself is held once its image is in

    socket.conn.write(Buffer.from(image));
    await expect.poll(() => client.state.held, { timeout: 2000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(acksFor(written, 7)).toHaveLength(1); // never answered twice
  });

  it('drops an offer cancelled between its packet and its image', async () => {
    const { client, socket, written } = await setUp();
    const [packet, image] = offerFrames('a2', 8);
    socket.conn.write(packet);
    await expect.poll(() => acksFor(written, 8).length, { timeout: 2000 }).toBe(1);
    socket.emit('task:cancel', { assignmentId: 'a2', reason: 'job_cancelled' });
    await new Promise((r) => setTimeout(r, 100));
    socket.conn.write(Buffer.from(image));
    await new Promise((r) => setTimeout(r, 200));
    expect(client.state.held).toBe(0);
    expect(client.state.assigned).toBe(0);
  });
});
