/**
 * Issue 10: should volunteers fetch images by hash (an immutable URL) instead of receiving them
 * inline in `task:assign`? A server process (Fastify + Socket.IO on one port, as the gateway) and
 * a client process of C simulated volunteers, each doing one task at a time: the server emits
 * `task:assign`; the volunteer acks, gets the image (inline: the binary attachment it already
 * has; by-hash: `fetch` of `GET /blobs/<sha256>` with `Cache-Control: immutable`, keep-alive,
 * from the gateway itself; by-hash-elsewhere: the same from another process, standing in for an
 * object store or CDN),
 * touches its bytes and sends `task:result`; the server then offers the next task. Measured per
 * mode and image: tasks/s, server CPU per task (`process.cpuUsage` of the server process over the
 * run: the gateway's cost, not the store's) and offer-to-result time p50/p99. Modes alternate within each round; medians over rounds.
 * Images are served from memory in both modes (the product's BlobStore has an LRU in front of disk).
 *
 *   npx tsx bench/experiments/fetch-by-hash.ts [volunteers=50] [tasksPerMode=2000] [rounds=3]
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { sampleImage } from '../../scripts/assets';
import { percentile } from '../lib/stats';

type Mode = 'inline' | 'by-hash' | 'by-hash-elsewhere';
interface Offer {
  id: number;
  sha256: string;
  image?: Buffer;
  /** Where to fetch the image (by-hash modes). */
  from?: string;
}

/** The images served by hash: an immutable, content-addressed URL. */
async function blobServer(blobs: Map<string, Buffer>) {
  const app = Fastify();
  app.get<{ Params: { sha: string } }>('/blobs/:sha', async (req, reply) => {
    const bytes = blobs.get(req.params.sha);
    if (!bytes) return reply.code(404).send();
    return reply
      .header('Content-Type', 'image/jpeg')
      .header('Cache-Control', 'public, max-age=31536000, immutable')
      .header('ETag', `"${req.params.sha}"`)
      .send(bytes);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

function loadImages() {
  return ['000004.jpg', 'bus.jpg'].map((name) => {
    const bytes = readFileSync(sampleImage(name));
    return { name, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
}

const role = process.argv[2];

if (role === 'blobs') {
  // Child: an object store / CDN stand-in on its own process (and its own share of the cores).
  const app = await blobServer(new Map(loadImages().map((i) => [i.sha256, i.bytes])));
  process.send?.({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` });
  process.on('disconnect', () => process.exit(0));
} else if (role === 'client') {
  // Child: C volunteers on the server at argv[3].
  const url = process.argv[3]!;
  const count = Number(process.argv[4]);
  for (let i = 0; i < count; i++) {
    const socket = io(url, { transports: ['websocket'], forceNew: true });
    socket.on('task:assign', async (offer: Offer, ack: (x: unknown) => void) => {
      ack({ ok: true });
      let bytes: ArrayBuffer | Buffer;
      if (offer.image) bytes = offer.image;
      else {
        const res = await fetch(`${offer.from}/blobs/${offer.sha256}`);
        bytes = await res.arrayBuffer();
      }
      socket.emit('task:result', { id: offer.id, n: bytes.byteLength });
    });
  }
  process.on('disconnect', () => process.exit(0));
} else {
  const VOLUNTEERS = Number(process.argv[2] ?? 50);
  const TASKS = Number(process.argv[3] ?? 2000);
  const ROUNDS = Number(process.argv[4] ?? 3);
  const MODES: readonly Mode[] = ['inline', 'by-hash', 'by-hash-elsewhere'];
  const images = loadImages();
  // The gateway serves blobs itself (by-hash) ...
  const app = await blobServer(new Map(images.map((i) => [i.sha256, i.bytes])));
  const io_ = new Server(app.server, { maxHttpBufferSize: 20e6 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // ... or another process does (by-hash-elsewhere: an object store or CDN).
  const store = fork(fileURLToPath(import.meta.url), ['blobs'], { execArgv: ['--import', 'tsx'] });
  const elsewhere = await new Promise<string>((resolve) =>
    store.once('message', (m) => resolve((m as { url: string }).url)),
  );

  const sockets: import('socket.io').Socket[] = [];
  io_.on('connection', (s) => sockets.push(s));
  const child = fork(fileURLToPath(import.meta.url), ['client', url, String(VOLUNTEERS)], {
    execArgv: ['--import', 'tsx'],
  });
  while (sockets.length < VOLUNTEERS) await new Promise((r) => setTimeout(r, 50));

  /** Runs `tasks` tasks over every volunteer, one at a time each; resolves with the figures. */
  const run = (mode: Mode, image: (typeof images)[number], tasks: number) =>
    new Promise<{ tasksPerSecond: number; cpuMsPerTask: number; p50: number; p99: number }>((resolve) => {
      let next = 0;
      let done = 0;
      const sentAt = new Map<number, number>();
      const latencies: number[] = [];
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const offer = (s: import('socket.io').Socket) => {
        if (next >= tasks) return;
        const id = next++;
        sentAt.set(id, performance.now());
        const payload: Offer =
          mode === 'inline'
            ? { id, sha256: image.sha256, image: image.bytes }
            : { id, sha256: image.sha256, from: mode === 'by-hash' ? url : elsewhere };
        s.emit('task:assign', payload, () => undefined);
      };
      const onResult = (s: import('socket.io').Socket) => (r: { id: number }) => {
        latencies.push(performance.now() - sentAt.get(r.id)!);
        done++;
        if (done === tasks) {
          const cpu = process.cpuUsage(cpu0);
          for (const x of sockets) x.removeAllListeners('task:result');
          resolve({
            tasksPerSecond: Math.round(tasks / ((performance.now() - t0) / 1000)),
            cpuMsPerTask: Math.round(((cpu.user + cpu.system) / 1000 / tasks) * 1000) / 1000,
            p50: Math.round(percentile(latencies, 50) * 10) / 10,
            p99: Math.round(percentile(latencies, 99) * 10) / 10,
          });
        } else offer(s);
      };
      for (const s of sockets) {
        s.on('task:result', onResult(s));
        offer(s);
      }
    });

  const results: Record<
    string,
    { tasksPerSecond: number[]; cpuMsPerTask: number[]; p50: number[]; p99: number[] }
  > = {};
  for (const image of images) {
    for (const mode of MODES) await run(mode, image, 200); // warm-up
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const image of images) {
      for (const mode of MODES) {
        const r = await run(mode, image, TASKS);
        const key = `${image.name} (${image.bytes.length} B), ${mode}`;
        const acc = (results[key] ??= { tasksPerSecond: [], cpuMsPerTask: [], p50: [], p99: [] });
        acc.tasksPerSecond.push(r.tasksPerSecond);
        acc.cpuMsPerTask.push(r.cpuMsPerTask);
        acc.p50.push(r.p50);
        acc.p99.push(r.p99);
        console.log(`round ${round + 1}: ${key}: ${JSON.stringify(r)}`);
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log('\nmedians over rounds (server process; volunteers in one child process on the same cores):');
  for (const [key, r] of Object.entries(results)) {
    console.log(
      `${key.padEnd(46)} ${String(median(r.tasksPerSecond)).padStart(6)} tasks/s  ` +
        `server CPU ${median(r.cpuMsPerTask).toFixed(3)} ms/task  offer->result p50 ${median(r.p50)} ms, p99 ${median(r.p99)} ms`,
    );
  }
  child.kill();
  store.kill();
  io_.close();
  await app.close();
  process.exit(0);
}
