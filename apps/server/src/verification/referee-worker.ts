/**
 * A referee worker thread: the agent's onnxruntime-node detector (sharp + the shared
 * `@tabgrid/detector` pipeline), so the server computes exactly what an honest agent does.
 * Runs in a worker_threads Worker, never on the event loop that serves sockets.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { REPORTED_SCORE_FLOOR } from '@tabgrid/detector';
import { createNativeDetector, UndecodableImageError, type NativeDetector } from '@tabgrid/node-runner';

export interface RefereeJob {
  id: number;
  image: Uint8Array;
}

/** Sent by `Referee.close()`: finish what runs, release the session, then exit. */
export interface RefereeClose {
  close: true;
}

export type RefereeReply =
  | {
      id: number;
      kind: 'detections';
      detections: import('@tabgrid/protocol').Detection[];
      /** Decode and inference of this run on this thread (ms), as a volunteer reports its own. */
      inferenceMs: number;
    }
  | { id: number; kind: 'undecodable'; message: string }
  | { id: number; kind: 'error'; message: string };

const { modelPath, labels } = workerData as { modelPath: string; labels: string[] };
let detector: Promise<NativeDetector> | null = null;
/** The job in progress (jobs run one after another on this thread's one session). */
let running: Promise<unknown> = Promise.resolve();

// Terminating a thread while onnxruntime-node runs in it can abort the whole process
// ("terminate called after throwing an instance of 'Napi::Error'"): on close the thread
// lets its job finish, releases the session and leaves on its own.
async function closeGracefully(): Promise<void> {
  await running.catch(() => undefined);
  const d = await detector?.catch(() => null);
  await d?.close().catch(() => undefined);
  parentPort?.close();
}

parentPort?.on('message', (message: RefereeJob | RefereeClose) => {
  if ('close' in message) {
    void closeGracefully();
    return;
  }
  const job = message;
  const loading = (detector ??= createNativeDetector(modelPath, labels, {
    threads: 1,
    // Down to the floor volunteers report to: a volunteer's shown detection near 0.25 finds its
    // partner here (rule V2); what the referee publishes keeps only the shown ones.
    scoreThreshold: REPORTED_SCORE_FLOOR,
  }));
  // A session that failed to load is loaded again on the next job (the failure may pass).
  loading.catch(() => {
    if (detector === loading) detector = null;
  });
  running = loading
    .then(async (d) => {
      const started = performance.now();
      const detections = await d.detect(job.image);
      return { detections, inferenceMs: Math.round(performance.now() - started) };
    })
    .then(
      ({ detections, inferenceMs }): RefereeReply => ({
        id: job.id,
        kind: 'detections',
        detections,
        inferenceMs,
      }),
      (err: unknown): RefereeReply =>
        err instanceof UndecodableImageError
          ? { id: job.id, kind: 'undecodable', message: err.message }
          : { id: job.id, kind: 'error', message: err instanceof Error ? err.message : String(err) },
    )
    .then((reply) => parentPort?.postMessage(reply));
});
