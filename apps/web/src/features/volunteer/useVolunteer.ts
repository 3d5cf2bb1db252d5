import { useEffect, useState, useSyncExternalStore } from 'react';
import { InferenceClient } from '../inference/client';
import { hasConsent } from './consent';
import { loadSettings } from './settings';
import { selfTest, type SelfTestOptions } from './selfTest';
import type { MeasureReport } from './shared/api';
import { VolunteerController, type VolunteerSnapshot } from './volunteerController';

/** What the benchmark harness and e2e tests read from `window.__tabgrid`. */
export interface TabgridProbe {
  status: string;
  tasksDone: number;
  tasksFailed: number;
  lastInferenceMs: number | null;
  avgInferenceMs: number | null;
  inferenceSamplesMs: readonly number[];
  modelLoadMs: number | null;
  modelSource: 'network' | 'cache' | null;
  /** WASM threads per inference worker. */
  numThreads: number | null;
  /** Inference workers (sessions) in the pool. */
  workers: number | null;
  /** Measured busy share (0–1) of the workers' time over the last minute. */
  busyShare: number | null;
  crossOriginIsolated: boolean;
  /** This tab's server-issued volunteer id (private to this browser), once joined. */
  volunteerId: string | null;
  /** The public display name others see on /live. */
  displayName: string | null;
  selfTest: (options: SelfTestOptions) => ReturnType<typeof selfTest>;
  /** `?measure=1`: the socket worker's offer, inference and event-loop timings (bench only). */
  measures: () => Promise<MeasureReport | null>;
}

declare global {
  interface Window {
    __tabgrid?: TabgridProbe;
  }
}

function readIntParam(name: string): number | undefined {
  const raw = new URLSearchParams(location.search).get(name);
  const n = raw ? Number.parseInt(raw, 10) : NaN;
  return Number.isFinite(n) && n >= 1 ? n : undefined;
}

const readThreadsParam = () => readIntParam('threads');

let selfTestClient: InferenceClient | null = null;

/**
 * One controller per page visit; `?autostart=1` (or having been running before a reload) starts
 * it once consent was given on this device
 * (see consent.ts), `?workers=K` sets the worker pool size (else the saved CPU budget's),
 * `?threads=N` the WASM threads per worker (alone: one worker with N threads).
 */
export function useVolunteer(): { controller: VolunteerController; snapshot: VolunteerSnapshot } {
  const [controller] = useState(
    () =>
      new VolunteerController({
        threads: readThreadsParam(),
        workers: readIntParam('workers') ?? loadSettings().workers ?? undefined,
        measure: new URLSearchParams(location.search).get('measure') === '1',
      }),
  );
  const snapshot = useSyncExternalStore(controller.subscribe, controller.getSnapshot);

  useEffect(() => {
    // After a reload the page is as it was: started again if it was running (and paused still
    // if it was paused: useControls applies the saved pause).
    const autostart = new URLSearchParams(location.search).get('autostart') === '1';
    if ((autostart || loadSettings().running) && hasConsent()) controller.start();
    return () => controller.dispose();
  }, [controller]);

  useEffect(() => {
    window.__tabgrid = {
      status: snapshot.status,
      tasksDone: snapshot.tasksDone,
      tasksFailed: snapshot.tasksFailed,
      lastInferenceMs: snapshot.lastInferenceMs,
      avgInferenceMs: snapshot.avgInferenceMs,
      inferenceSamplesMs: snapshot.inferenceSamplesMs,
      modelLoadMs: snapshot.runtime?.loadMs ?? null,
      modelSource: snapshot.runtime?.modelSource ?? null,
      numThreads: snapshot.runtime?.numThreads ?? null,
      workers: snapshot.runtime?.workers ?? null,
      busyShare: snapshot.busyShare,
      crossOriginIsolated: self.crossOriginIsolated,
      volunteerId: snapshot.volunteerId,
      displayName: snapshot.displayName,
      selfTest: (options) => {
        selfTestClient ??= new InferenceClient();
        return selfTest(selfTestClient, { numThreads: readThreadsParam(), ...options });
      },
      measures: () => controller.measures(),
    };
  }, [snapshot, controller]);

  return { controller, snapshot };
}
