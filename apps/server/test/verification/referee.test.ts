/**
 * The referee in worker threads: the same detections as the agent's detector on the same
 * bytes, `undecodable` for bytes that are not an image, and null (no run) past its budget.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLabels } from '@tabgrid/detector';
import { createNativeDetector } from '@tabgrid/node-runner';
import { labelsPath, modelPath, sampleImages } from '../../../../scripts/assets';
import { Referee } from '../../src/verification/referee';

let referee: Referee | undefined;
afterAll(async () => {
  await referee?.close();
});

describe('server referee', () => {
  it('computes what the agent computes, off the event loop, and says when bytes are undecodable', async () => {
    const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
    referee = new Referee(modelPath(), labels, { workers: 1, perSecond: 100 });
    const image = sampleImages().find((i) => i.name === 'bus.jpg') ?? sampleImages()[0]!;
    const bytes = await readFile(image.path);
    const native = await createNativeDetector(modelPath(), labels, { threads: 1 });
    const expected = await native.detect(bytes);
    await native.close();

    const got = await referee.run(bytes);
    expect(got).toEqual({ kind: 'detections', detections: expected, inferenceMs: expect.any(Number) });
    // Its own run time, measured in the worker (stored with a task it settles, V8).
    expect(got?.kind === 'detections' && got.inferenceMs).toBeGreaterThan(0);
    expect(expected.length).toBeGreaterThan(0);
    expect(await referee.run(Buffer.from('not an image at all'))).toMatchObject({ kind: 'undecodable' });
  });

  it('refuses past its per-second budget', async () => {
    const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
    const small = new Referee(modelPath(), labels, { workers: 1, perSecond: 1 });
    try {
      const bytes = await readFile(sampleImages()[0]!.path);
      const first = small.run(bytes, 10_000);
      expect(first).not.toBeNull();
      expect(small.run(bytes, 10_500)).toBeNull();
      await first;
      const later = small.run(bytes, 11_000);
      expect(later).not.toBeNull();
      await later;
    } finally {
      await small.close();
    }
  });
});
