/**
 * A child process holding many simulated volunteers: real socket.io-client
 * peers speaking the volunteer protocol that ack at once and answer each task
 * after a fixed delay (no inference). Driven by its parent over IPC:
 *
 *   parent -> { type: 'connect' } | { type: 'state', accepting } | { type: 'stats' } | { type: 'close' }
 *   child  -> { type: 'connected', ok, failed } | { type: 'stats', done, assigned, errors, rxBytes, txBytes, cpuUs }
 *             | { type: 'state-sent' }
 *
 * rxBytes / txBytes: Engine.IO packet payload bytes received / sent by all peers since they opened;
 * cpuUs: this process's CPU time (user + system), microseconds.
 *
 * Usage (spawned by bench/lib/scheduler-capacity.ts with an IPC channel):
 *   tsx bench/sim/volunteer-swarm.ts <url> <count> <idPrefix> <answerDelayMs | minMs-maxMs>
 */
import {
  PROTOCOL_VERSION,
  type VolunteerClientToServer,
  type VolunteerServerToClient,
} from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';

type Peer = Socket<VolunteerServerToClient, VolunteerClientToServer>;

const args = process.argv.slice(2);
const [url, countArg, idPrefix, delayArg = '0'] = args.filter((a) => !a.startsWith('--'));
const count = Number(countArg);
const [delayMin, delayMax = delayMin] = delayArg.split('-').map(Number) as [number, number?];
const answerDelay = () => delayMin + Math.random() * (delayMax - delayMin);
/** Connections opened at once while ramping up. */
const CONNECT_CONCURRENCY = 100;
const HEARTBEAT_SLOTS = 20;

const peers: Peer[] = [];
const held: Set<string>[] = [];
let done = 0;
let assigned = 0;
let errors = 0;
let heartbeatMs = 5000;
let rxBytes = 0;
let txBytes = 0;
const size = (data: unknown) =>
  typeof data === 'string'
    ? Buffer.byteLength(data)
    : ((data as { byteLength?: number } | undefined)?.byteLength ?? 0);

function open(i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Peer = io(`${url}/volunteer`, {
      auth: {
        protocolVersion: PROTOCOL_VERSION,
        // No credentials: each peer joins as a new volunteer and is issued its own id.
        kind: 'agent',
        runtime: `bench swarm ${idPrefix}-${i}`,
      },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    socket.io.once('open', () => {
      socket.io.engine.on('packet', (p) => (rxBytes += size(p.data)));
      socket.io.engine.on('packetCreate', (p) => (txBytes += size(p.data)));
    });
    const mine = new Set<string>();
    peers[i] = socket;
    held[i] = mine;
    socket.once('hello', (hello) => {
      heartbeatMs = hello.heartbeatMs;
      resolve(true);
    });
    socket.once('connect_error', () => resolve(false));
    socket.on('task:cancel', ({ assignmentId }) => mine.delete(assignmentId));
    socket.on('task:assign', (task, ack) => {
      assigned++;
      mine.add(task.assignmentId);
      ack({ ok: true, data: { accepted: true } });
      const delayMs = answerDelay();
      setTimeout(() => {
        socket.emit(
          'task:result',
          { assignmentId: task.assignmentId, detections: [], inferenceMs: Math.round(delayMs) },
          (answer) => {
            mine.delete(task.assignmentId);
            if (answer.ok) done++;
            else errors++;
          },
        );
      }, delayMs);
    });
  });
}

async function connectAll(): Promise<void> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      if (await open(i)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, lane));
  process.send?.({ type: 'connected', ok, failed });
}

// Heartbeats for held leases, spread over the interval in slots.
let slot = 0;
setInterval(
  () => {
    for (let i = slot; i < peers.length; i += HEARTBEAT_SLOTS) {
      const mine = held[i];
      if (mine && mine.size > 0)
        peers[i]!.emit('task:heartbeat', { assignmentIds: [...mine] }, () => undefined);
    }
    slot = (slot + 1) % HEARTBEAT_SLOTS;
  },
  Math.max(50, Math.floor(heartbeatMs / HEARTBEAT_SLOTS)),
).unref();

process.on('message', (msg: unknown) => {
  const m = msg as { type: string; accepting?: boolean };
  if (m.type === 'connect') void connectAll();
  else if (m.type === 'state') {
    for (const p of peers) p.emit('volunteer:state', { accepting: m.accepting === true }, () => undefined);
    process.send?.({ type: 'state-sent' });
  } else if (m.type === 'stats') {
    const cpu = process.cpuUsage();
    process.send?.({ type: 'stats', done, assigned, errors, rxBytes, txBytes, cpuUs: cpu.user + cpu.system });
  } else if (m.type === 'close') {
    for (const p of peers) p.close();
    setTimeout(() => process.exit(0), 100);
  }
});
process.on('disconnect', () => process.exit(0));
