/**
 * Headless-path fidelity: a real server and a real agent in-process, every
 * sample photo uploaded through the HTTP API; every native reference
 * detection with score >= 0.5 must come back with the same label and IoU >= 0.8.
 * The reference is computed here with `createNativeDetector`, never hard-coded.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detection } from '@tabgrid/protocol';
import { iou, parseLabels } from '@tabgrid/detector';
import { labelsPath, modelPath, sampleImages } from '../../../scripts/assets';
import { startTestServer, type TestServer } from '../../server/test/support/harness';
import { startAgent, type Agent } from '../src/agent';
import { createNativeDetector } from '@tabgrid/node-runner';

const MIN_SCORE = 0.5;
const MIN_IOU = 0.8;

/** Reference detections (score >= MIN_SCORE) with no same-label candidate at IoU >= MIN_IOU. */
function unmatched(reference: readonly Detection[], candidate: readonly Detection[]) {
  return reference
    .filter((r) => r.score >= MIN_SCORE)
    .map((r) => ({
      reference: r,
      bestIoU: Math.max(0, ...candidate.filter((c) => c.label === r.label).map((c) => iou(r.box, c.box))),
    }))
    .filter((m) => m.bestIoU < MIN_IOU);
}

let server: TestServer | undefined;
let agent: Agent | undefined;
const references = new Map<string, Detection[]>();

beforeAll(async () => {
  const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  const native = await createNativeDetector(modelPath(), labels);
  try {
    for (const image of sampleImages())
      references.set(image.name, await native.detect(await readFile(image.path)));
  } finally {
    await native.close();
  }
  server = await startTestServer();
});

afterAll(async () => {
  await agent?.stop();
  await server?.close();
});

describe('headless agent fidelity', () => {
  it('matches the native reference on every sample photo through the real server', async () => {
    const srv = server!;
    const a = startAgent({
      server: srv.url,
      socketOptions: { transports: ['websocket'] },
    });
    agent = a;
    await new Promise<void>((resolve, reject) => {
      const offReady = a.on('ready', () => {
        offReady();
        offFatal();
        resolve();
      });
      const offFatal = a.on('fatal', (err) => {
        offReady();
        offFatal();
        reject(err);
      });
    });

    const images = sampleImages();
    const created = await srv.createJob(images.map((i) => i.name));
    const job = await srv.waitForJob(created.id, 120_000);
    expect(job.tasks.filter((t) => t.status !== 'done').map((t) => `${t.name}: ${t.status}`)).toEqual([]);

    let checked = 0;
    for (const task of job.tasks) {
      const reference = references.get(task.name);
      expect(reference, task.name).toBeDefined();
      checked += reference!.filter((d) => d.score >= MIN_SCORE).length;
      expect(unmatched(reference!, task.detections), task.name).toEqual([]);
    }
    expect(checked).toBeGreaterThan(0);
    expect(a.stats.completed).toBe(images.length);
  });
});
