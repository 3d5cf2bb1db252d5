/**
 * The preamble the end-to-end tests with real parts shared, written once (issue 16): one real
 * server per test with the real agents and scripted volunteers it met, all closed after the test;
 * the native detector's detections of every sample photo (the truth an honest volunteer sends);
 * the verification config they start from; one `/metrics` sample. Used by the verification tests
 * (canaries, gaps, replica wait, trust), live counts and credits.
 *
 * @example
 * const rig = serverPerTest();
 * it('…', async () => {
 *   const s = await rig.start({ ...VERIFYING, canaryPercent: 0 });
 *   await rig.honestAgent(s.url);
 * });
 */
import { readFile } from 'node:fs/promises';
import { afterEach, beforeAll } from 'vitest';
import type { Detection } from '@tabgrid/protocol';
import { parseLabels } from '@tabgrid/detector';
import { createNativeDetector } from '@tabgrid/node-runner';
import type { Agent } from '../../../agent/src/agent';
import { labelsPath, modelPath, sampleImages } from '../../../../scripts/assets';
import type { ServerSeams } from '../../src/app';
import type { ServerConfig } from '../../src/config';
import type { FakeVolunteer } from './fake-volunteer';
import { bearer, startTestServer, type TestServer } from './harness';
import { startHonestAgent } from './honest-agent';

/**
 * Verification on, every volunteer on one network (tests run on 127.0.0.1), a short replica wait
 * and a generous referee budget. Tests add what they change (canaries off, a longer wait).
 */
export const VERIFYING: Partial<ServerConfig> = {
  verification: true,
  distinctNetworks: false,
  refereeAfterMs: 300,
  refereeBudget: 50,
};

export interface ServerRig {
  /** Real agents of this test (stopped after it); `honestAgent` adds to it. */
  readonly agents: Agent[];
  /** Scripted volunteers of this test (closed after it). */
  readonly fakes: FakeVolunteer[];
  /** Starts this test's server; it is closed after the test (one server per test at a time). */
  start(config?: Partial<ServerConfig>, seams?: ServerSeams): Promise<TestServer>;
  /** A real headless agent on `url`, ready; stopped after the test. */
  honestAgent(url: string): Promise<Agent>;
  /** Anything else to close after the test, before the agents and the server (sockets, watchers). */
  closeAfter(close: () => void): void;
}

/** Registers the clean-up (`afterEach`) of the file's tests and returns the rig they start from. */
export function serverPerTest(): ServerRig {
  const agents: Agent[] = [];
  const fakes: FakeVolunteer[] = [];
  const closers: (() => void)[] = [];
  let server: TestServer | undefined;
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    for (const f of fakes.splice(0)) f.close();
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await server?.close();
    server = undefined;
  });
  return {
    agents,
    fakes,
    async start(config = {}, seams = {}) {
      await server?.close();
      server = await startTestServer(config, seams);
      return server;
    },
    honestAgent: (url) => startHonestAgent(url, agents),
    closeAfter: (close) => void closers.push(close),
  };
}

/**
 * The native detector's detections of every sample photo, by name, filled in a `beforeAll` this
 * registers (the model loads once per file).
 */
export function referenceDetections(): Map<string, Detection[]> {
  const reference = new Map<string, Detection[]>();
  beforeAll(async () => {
    const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
    const native = await createNativeDetector(modelPath(), labels, { threads: 1 });
    try {
      for (const image of sampleImages())
        reference.set(image.name, await native.detect(await readFile(image.path)));
    } finally {
      await native.close();
    }
  }, 60_000);
  return reference;
}

/** One sample of the server's `/metrics` (`labels` '' for a metric without labels); 0 if absent. */
export async function metric(s: TestServer, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`, { headers: bearer() })).text();
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.split(' ').pop()) : 0;
}
