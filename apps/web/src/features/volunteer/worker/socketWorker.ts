/**
 * The volunteer's socket worker: runs the shared `VolunteerClient` (socket,
 * heartbeats, acks, retries) off the page's main thread, so hidden-tab timer
 * throttling and React rendering never delay a heartbeat or an ack. It drives
 * the inference worker pool and keeps the identity in IndexedDB. The page only
 * renders the snapshots it is sent.
 */
import * as Comlink from 'comlink';
import { VolunteerClient, type OfferTiming } from '@tabgrid/volunteer-client';
import { choosePoolShape, InferencePool } from '../../inference/client';
import type { CurrentUpdate, VolunteerWorkerApi, WorkerSnapshot } from '../shared/api';
import { BusyMeter, DutyCycle } from './dutyCycle';
import { IdbIdentityStore } from './idbIdentityStore';
import { Measure } from './measure';
import { PoolRunner } from './poolRunner';

let client: VolunteerClient | null = null;
let runner: PoolRunner | null = null;
let pool: InferencePool | null = null;
/** The owner's pause, as the page last set it; the client is paused when this or the duty cycle says so. */
let ownerPaused = false;
let duty: DutyCycle | null = null;
let measure: Measure | null = null;
const busy = new BusyMeter();

function applyPause(): void {
  client?.setPaused(ownerPaused || (duty?.resting ?? false));
}

function snapshot(): WorkerSnapshot {
  return {
    client: client!.state,
    pool: pool!.shape,
    runtime: runner?.runtime ?? null,
    inferenceSamplesMs: [...client!.recentInferenceMs],
    resting: duty?.resting ?? false,
    busyShare: busy.share(pool!.shape.workers, performance.now()),
  };
}

const api: VolunteerWorkerApi = {
  async init(options, onState, onCurrent) {
    if (client) return snapshot();
    if (options.measure) measure = new Measure();
    pool = new InferencePool(choosePoolShape({ workers: options.workers, threads: options.threads }));
    const { workers, threadsPerWorker } = pool.shape;
    duty = new DutyCycle(() => {
      applyPause();
      if (client) onState(snapshot());
    });
    runner = new PoolRunner(
      pool,
      (task, out, span) => {
        // The whole call is busy time (decode, transfer, inference), not only the model's run.
        busy.add(span.start, span.end);
        measure?.inference(task.assignmentId, span);
        duty?.taskDone(span.end - span.start);
        onCurrent({
          kind: 'finished',
          assignmentId: task.assignmentId,
          width: out.width,
          height: out.height,
          detections: out.detections,
          inferenceMs: out.inferenceMs,
        });
      },
      () => duty?.untilRested() ?? Promise.resolve(),
    );
    client = new VolunteerClient({
      server: '', // this origin
      kind: 'browser',
      runtime: `onnxruntime-web wasm simd workers=${workers} threads=${threadsPerWorker}${self.crossOriginIsolated ? '' : ' (not isolated)'}`,
      runner,
      identity: new IdbIdentityStore(),
      ...(measure ? { onOfferTiming: (t: OfferTiming) => measure?.offer(t) } : {}),
      socketOptions: {
        // The client itself connects WebSocket-only (no polling: no sticky sessions needed).
        reconnectionDelay: 500,
        reconnectionDelayMax: 5000,
      },
    });
    client.on('state', () => onState(snapshot()));
    client.on('started', (task) => {
      // A copy: the original bytes are transferred to an inference worker next.
      const image =
        task.image instanceof ArrayBuffer
          ? task.image.slice(0)
          : (task.image.buffer.slice(
              task.image.byteOffset,
              task.image.byteOffset + task.image.byteLength,
            ) as ArrayBuffer);
      const update: CurrentUpdate = {
        kind: 'started',
        assignmentId: task.assignmentId,
        name: task.name,
        mime: task.mime,
        width: task.width,
        height: task.height,
        image,
      };
      onCurrent(Comlink.transfer(update, [image]));
    });
    client.on('failed', ({ assignmentId }) => onCurrent({ kind: 'failed', assignmentId }));
    return snapshot();
  },
  start: () => client!.start(),
  stop: () => client!.stop(),
  setPaused(paused) {
    ownerPaused = paused;
    applyPause();
  },
  setDutyCycle(fraction) {
    duty?.setFraction(fraction);
    applyPause();
  },
  async dispose() {
    measure?.stop();
    await client?.close();
  },
  measures: async () => measure?.read() ?? null,
};

Comlink.expose(api);
