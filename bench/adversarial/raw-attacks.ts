/**
 * Protocol-level attacks the volunteer client would not make, on a raw socket.io-client:
 * replays of earlier results, results for assignments never held, and connecting with a stolen
 * volunteer id. Every answer the server gives is reported as a `LiarEvent`.
 */
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  type Detection,
  type TaskAssignment,
  type TaskResult,
  type VolunteerClientToServer,
  type VolunteerServerToClient,
} from '@tabgrid/protocol';
import type { IdentityStore } from '@tabgrid/volunteer-client';
import { randomBoxes } from './lies';
import type { LiarEvent } from './kinds';
import { GREEDY_SLOTS } from './lying-runner';

type RawSocket = Socket<VolunteerServerToClient, VolunteerClientToServer>;
type Emit = (e: LiarEvent) => void;

const ACK_MS = 5000;

async function sendResult(socket: RawSocket, payload: TaskResult): Promise<string> {
  try {
    const ack = await socket.timeout(ACK_MS).emitWithAck('task:result', payload);
    if (!ack.ok) return ack.code;
    return ack.data.duplicate ? 'duplicate' : ack.data.accepted ? 'accepted' : 'not_accepted';
  } catch {
    return 'no_ack';
  }
}

/**
 * `replay`: answers every offer with random boxes, then sends every earlier result again.
 * `unassigned`: answers every offer with random boxes after results for ids it never held.
 */
export function rawLiar(
  kind: 'replay' | 'unassigned',
  server: string,
  identity: IdentityStore,
  random: () => number,
  emit: Emit,
): () => void {
  let labels: string[] = [];
  const sent: { taskId: string; payload: TaskResult }[] = [];
  let stored: { volunteerId: string; token: string } | null = null;
  const socket: RawSocket = io(`${server}/volunteer`, {
    transports: ['websocket'],
    auth: (cb) =>
      void identity.load().then((id) => {
        stored = id;
        cb({
          protocolVersion: PROTOCOL_VERSION,
          kind: 'agent',
          runtime: `liar:${kind}`,
          slots: GREEDY_SLOTS,
          ...(id ? { volunteerId: id.volunteerId, token: id.token } : {}),
        });
      }),
  });
  socket.on('hello', (hello) => {
    labels = hello.model.labels;
    if (hello.token)
      void identity.save({
        volunteerId: hello.volunteerId,
        token: hello.token,
        displayName: hello.displayName,
      });
    else if (!stored) return;
    emit({ event: 'identity', kind, volunteerId: hello.volunteerId, displayName: hello.displayName });
  });
  socket.on('task:assign', (a: TaskAssignment, ack) => {
    ack({ ok: true, data: { accepted: true } });
    void answer(a);
  });
  const report = (taskId: string, assignmentId: string, answer: string, lie = true) =>
    emit({ event: 'sent', at: Date.now(), taskId, assignmentId, lie, what: 'result', answer });

  async function answer(a: TaskAssignment): Promise<void> {
    const detections: Detection[] = randomBoxes(random, labels, a.width, a.height);
    if (kind === 'unassigned') {
      // A well-formed id it never held (the server's own format), and a mutation of the one it holds.
      const invented = `asg_${randomBytes(9).toString('base64url')}`;
      const mutated = a.assignmentId.slice(0, -1) + (a.assignmentId.endsWith('A') ? 'B' : 'A');
      for (const id of [invented, mutated]) {
        report(a.taskId, id, await sendResult(socket, { assignmentId: id, detections, inferenceMs: 3 }));
      }
    }
    const payload: TaskResult = { assignmentId: a.assignmentId, detections, inferenceMs: 2 + random() * 3 };
    report(a.taskId, a.assignmentId, await sendResult(socket, payload));
    if (kind === 'replay') {
      for (const old of sent.slice(-5)) {
        report(old.taskId, old.payload.assignmentId, await sendResult(socket, old.payload));
      }
    }
    sent.push({ taskId: a.taskId, payload });
  }
  return () => socket.close();
}

/**
 * `takeover`: tries, again and again, to connect as a victim whose id it stole (e.g. read off a
 * screen or a log): without a token, and with a made-up one. Every refusal is reported; if the
 * server ever accepted, `hello` would be reported as an identity (the suite fails on that).
 */
export function takeover(server: string, victimId: string, emit: Emit, everyMs = 2000): () => void {
  let stopped = false;
  let socket: RawSocket | null = null;
  const attempt = (withToken: boolean) => {
    socket?.close();
    socket = io(`${server}/volunteer`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: {
        protocolVersion: PROTOCOL_VERSION,
        kind: 'agent',
        slots: GREEDY_SLOTS,
        volunteerId: victimId,
        ...(withToken ? { token: randomBytes(32).toString('base64url') } : {}),
      },
    });
    socket.on('connect_error', (err) => {
      const data = (err as Error & { data?: { code?: string; message?: string } }).data;
      emit({
        event: 'refused',
        at: Date.now(),
        code: data?.code ?? 'connect_error',
        message: data?.message ?? err.message,
      });
    });
    socket.on('hello', (hello) =>
      emit({
        event: 'identity',
        kind: 'takeover',
        volunteerId: hello.volunteerId,
        displayName: hello.displayName,
      }),
    );
    socket.on('task:assign', (_a, ack) => ack({ ok: true, data: { accepted: true } }));
  };
  let withToken = false;
  const timer = setInterval(() => {
    if (!stopped) attempt((withToken = !withToken));
  }, everyMs);
  attempt(false);
  return () => {
    stopped = true;
    clearInterval(timer);
    socket?.close();
  };
}
