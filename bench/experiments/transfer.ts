/**
 * Technique 3: binary Socket.IO attachment vs base64 string for the image in `task:assign`.
 * Server + client in one process (websocket transport, default parser), N round trips each:
 * server emits { image } with an ack, the client acks at once; time per round trip and bytes
 * on the wire (socket.io-parser encoding of the packet).
 *
 *   npx tsx bench/experiments/transfer.ts [N=200] [rounds=3]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { Encoder } from 'socket.io-parser';
import { imagesDir } from '../../scripts/assets';
import { summarize } from '../lib/stats';

const N = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 3);
const photo = readFileSync(path.join(imagesDir(), 'bus.jpg'));

function wireBytes(payload: unknown): number {
  const parts = new Encoder().encode({ type: 2, nsp: '/', id: 1, data: ['task:assign', payload] });
  return parts.reduce<number>(
    (n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : (p as Buffer).length),
    0,
  );
}

async function main() {
  const http = createServer();
  const server = new Server(http, { maxHttpBufferSize: 20e6 });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  const client = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
  // Client side: decode, touch the bytes (base64 -> bytes as a worker would need), ack.
  client.on('task:assign', (p: { image: Buffer | ArrayBuffer | string }, ack: (x: unknown) => void) => {
    const bytes = typeof p.image === 'string' ? Buffer.from(p.image, 'base64') : p.image;
    ack({ ok: true, n: (bytes as { byteLength: number }).byteLength });
  });
  const socket = await new Promise<import('socket.io').Socket>((r) => server.once('connection', r));
  await new Promise<void>((r) => (client.connected ? r() : client.once('connect', () => r())));

  const roundTrip = (image: Buffer | string) =>
    new Promise<number>((resolve) => {
      const t0 = performance.now();
      socket.emit('task:assign', { assignmentId: 'a', image }, () => resolve(performance.now() - t0));
    });
  const results: Record<string, number[]> = { binary: [], base64: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['binary', 'base64'] as const) {
      for (let i = 0; i < 10; i++) await roundTrip(mode === 'binary' ? photo : photo.toString('base64')); // warm-up
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        // base64 cost includes the server-side encode per task
        await roundTrip(mode === 'binary' ? photo : photo.toString('base64'));
      }
      results[mode]!.push((performance.now() - t0) / N);
    }
  }
  const out = {
    photoBytes: photo.length,
    wireBytes: {
      binary: wireBytes({ assignmentId: 'a', image: photo }),
      base64: wireBytes({ assignmentId: 'a', image: photo.toString('base64') }),
    },
    msPerRoundTrip: { binary: summarize(results.binary!), base64: summarize(results.base64!) },
    runs: results,
  };
  console.log(JSON.stringify(out, null, 2));
  client.close();
  server.close();
  http.close();
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
