/**
 * The headless volunteer against a stub `/volunteer` server (real Socket.IO,
 * port 0): model download + verification, ack on assign, results equal to the
 * native reference, retry on a lost ack, undecodable images, cancel, refusal.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Server, type Namespace, type Socket } from 'socket.io';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PROTOCOL_VERSION,
  type Ack,
  type Hello,
  type TaskAssignment,
  type TaskErrorReport,
  type TaskResult,
  type VolunteerAuth,
  type VolunteerClientToServer,
  type VolunteerServerToClient,
} from '@tabgrid/protocol';
import { parseLabels, sha256Hex } from '@tabgrid/detector';
import { labelsPath, modelPath, sampleImage } from '../../../scripts/assets';
import { startAgent, type Agent } from '../src/agent';
import { createNativeDetector } from '@tabgrid/node-runner';

type StubSocket = Socket<VolunteerClientToServer, VolunteerServerToClient>;

let modelBytes: Buffer;
let labels: string[];
let busBytes: Buffer;
let busReference: TaskResult['detections'];

beforeAll(async () => {
  modelBytes = await readFile(modelPath());
  labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  busBytes = await readFile(sampleImage('bus.jpg'));
  const native = await createNativeDetector(modelBytes, labels);
  busReference = await native.detect(busBytes);
  await native.close();
});

interface Stub {
  url: string;
  nsp: Namespace<VolunteerClientToServer, VolunteerServerToClient>;
  auths: VolunteerAuth[];
  results: TaskResult[];
  errors: TaskErrorReport[];
  heartbeats: string[][];
  modelDownloads: number;
  /** How many `task:result` emits to leave unanswered before acking. */
  dropResultAcks: number;
  connected: Promise<StubSocket>;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function startStub(hello: (h: Hello) => Hello = (h) => h): Promise<Stub> {
  const http: HttpServer = createServer((req, res) => {
    if (req.url === '/models/yolox_nano.onnx') {
      stub.modelDownloads++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(modelBytes);
    } else res.writeHead(404).end();
  });
  const io = new Server<VolunteerClientToServer, VolunteerServerToClient>(http);
  const nsp = io.of('/volunteer');
  let resolveConnected!: (s: StubSocket) => void;
  const stub: Stub = {
    url: '',
    nsp,
    auths: [],
    results: [],
    errors: [],
    heartbeats: [],
    modelDownloads: 0,
    dropResultAcks: 0,
    connected: new Promise((r) => (resolveConnected = r)),
    close: async () => {
      io.close();
      await new Promise((r) => http.close(r));
    },
  };
  nsp.on('connection', async (socket) => {
    stub.auths.push(socket.handshake.auth as VolunteerAuth);
    socket.on('task:result', (payload, ack) => {
      stub.results.push(payload);
      if (stub.dropResultAcks > 0) {
        stub.dropResultAcks--;
        return;
      }
      const duplicate = stub.results.filter((r) => r.assignmentId === payload.assignmentId).length > 1;
      ack({ ok: true, data: { accepted: !duplicate, duplicate } });
    });
    socket.on('task:error', (payload, ack) => {
      stub.errors.push(payload);
      ack({ ok: true, data: { requeued: true } });
    });
    socket.on('task:heartbeat', ({ assignmentIds }, ack) => {
      stub.heartbeats.push(assignmentIds);
      ack({ ok: true, data: { renewed: assignmentIds, lost: [] } });
    });
    socket.emit(
      'hello',
      hello({
        volunteerId: (socket.handshake.auth as VolunteerAuth).volunteerId ?? `v_stub${stub.auths.length}`,
        displayName: 'stub-volunteer-1',
        model: {
          url: '/models/yolox_nano.onnx',
          sha256: await sha256Hex(modelBytes),
          bytes: modelBytes.length,
          labels,
          inputSize: 416,
        },
        leaseMs: 2000,
        heartbeatMs: 5, // frequent, so a task held for one inference (~30 ms) is always renewed at least once
        maxInFlight: 2,
      }),
    );
    resolveConnected(socket);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  stub.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  cleanups.push(stub.close);
  return stub;
}

function agentFor(stub: Stub, extra: Partial<Parameters<typeof startAgent>[0]> = {}): Agent {
  const agent = startAgent({
    server: stub.url,
    localModelPath: '/nonexistent/model.onnx', // force the download path
    ackTimeoutMs: 300,
    socketOptions: { reconnection: false, transports: ['websocket'] },
    ...extra,
  });
  cleanups.push(() => agent.stop());
  return agent;
}

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const once = <T>(agent: Agent, event: 'ready' | 'result' | 'failed' | 'fatal' | 'cancelled') =>
  new Promise<T>((resolve) => {
    const off = agent.on(event, ((value: T) => {
      off();
      resolve(value);
    }) as never);
  });

let seq = 0;
function assignment(image: Uint8Array, name = 'bus.jpg'): TaskAssignment {
  seq++;
  return {
    assignmentId: `as${seq}`,
    taskId: `t${seq}`,
    jobId: 'j1',
    name,
    width: 810,
    height: 1080,
    mime: 'image/jpeg',
    imageSha256: '0'.repeat(64),
    image,
    leaseMs: 2000,
  };
}

const assign = (socket: StubSocket, a: TaskAssignment) =>
  socket.timeout(1000).emitWithAck('task:assign', a) as unknown as Promise<Ack<{ accepted: true }>>;

describe('headless agent', () => {
  it('downloads and verifies the model, acks at once and reports the native result', async () => {
    const stub = await startStub();
    const agent = agentFor(stub);
    const ready = once<{ modelSource: string }>(agent, 'ready');
    const socket = await stub.connected;
    expect(stub.auths[0]).toMatchObject({ protocolVersion: PROTOCOL_VERSION, kind: 'agent' });
    expect(stub.auths[0]!.runtime).toBe('onnxruntime-node cpu');

    const result = once<{ assignmentId: string }>(agent, 'result');
    const a = assignment(busBytes);
    // Acked before the model is even loaded.
    await expect(assign(socket, a)).resolves.toEqual({ ok: true, data: { accepted: true } });
    expect((await ready).modelSource).toContain('/models/yolox_nano.onnx');
    expect(stub.modelDownloads).toBe(1);
    expect((await result).assignmentId).toBe(a.assignmentId);
    expect(stub.results).toHaveLength(1);
    expect(stub.results[0]!.detections).toEqual(busReference);
    expect(stub.results[0]!.inferenceMs).toBeGreaterThan(0);
    expect(agent.stats).toMatchObject({ assigned: 1, completed: 1, failed: 0 });
  });

  it('resends a result whose ack timed out', async () => {
    const stub = await startStub();
    stub.dropResultAcks = 1;
    const agent = agentFor(stub);
    const socket = await stub.connected;
    const result = once<{ accepted: boolean }>(agent, 'result');
    await assign(socket, assignment(busBytes));
    expect(await result).toMatchObject({ accepted: false, duplicate: true });
    expect(stub.results).toHaveLength(2);
    expect(stub.results[1]).toEqual(stub.results[0]);
    expect(agent.stats.reportRetries).toBe(1);
  });

  it('reports an undecodable image with task:error', async () => {
    const stub = await startStub();
    const agent = agentFor(stub);
    const socket = await stub.connected;
    const failed = once(agent, 'failed');
    const a = assignment(new TextEncoder().encode('definitely not a jpeg'), 'junk.jpg');
    await assign(socket, a);
    await failed;
    expect(stub.errors).toEqual([
      expect.objectContaining({ assignmentId: a.assignmentId, code: 'undecodable' }),
    ]);
    expect(stub.results).toHaveLength(0);
  });

  it('drops a cancelled assignment and renews held ones by heartbeat', async () => {
    const stub = await startStub();
    const agent = agentFor(stub);
    const socket = await stub.connected;
    const first = assignment(busBytes);
    const second = assignment(busBytes);
    await assign(socket, first);
    await assign(socket, second);
    socket.emit('task:cancel', { assignmentId: second.assignmentId, reason: 'task_completed' });
    await once(agent, 'result');
    await new Promise((r) => setTimeout(r, 400));
    expect(stub.results.map((r) => r.assignmentId)).toEqual([first.assignmentId]);
    expect(agent.stats.cancelled).toBe(1);
    expect(stub.heartbeats.flat()).toContain(first.assignmentId);
  });

  it('--slots 2: announces two slots and runs two tasks at once on two sessions', async () => {
    const stub = await startStub();
    const agent = agentFor(stub, { slots: 2 });
    const socket = await stub.connected;
    expect(stub.auths[0]).toMatchObject({ slots: 2 });
    const started: number[] = [];
    agent.client.on('started', () => started.push(agent.client.state.running));
    const results: string[] = [];
    agent.on('result', (r) => results.push(r.assignmentId));
    const a = assignment(busBytes);
    const b = assignment(busBytes);
    await Promise.all([assign(socket, a), assign(socket, b)]);
    await until(() => results.length === 2);
    // The second task started while the first was still running.
    expect(started).toEqual([1, 2]);
    expect(stub.results.map((r) => r.detections)).toEqual([busReference, busReference]);
  });

  it('refuses to work when the model hash differs from the announced one', async () => {
    const stub = await startStub((h) => ({ ...h, model: { ...h.model, sha256: 'a'.repeat(64) } }));
    const agent = agentFor(stub);
    const fatal = once<Error>(agent, 'fatal');
    expect((await fatal).message).toMatch(/sha256/);
    expect(agent.stats.refused).toMatch(/server expects a{64}/);
    expect(agent.socket?.connected ?? false).toBe(false);
  });

  it('refuses an explicit --model file that does not match', async () => {
    const stub = await startStub();
    const agent = agentFor(stub, { modelPath: labelsPath() });
    expect((await once<Error>(agent, 'fatal')).name).toBe('ModelMismatchError');
    expect(stub.modelDownloads).toBe(0);
  });
});
