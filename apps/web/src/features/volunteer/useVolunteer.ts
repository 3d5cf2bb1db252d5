import { useEffect, useState, useSyncExternalStore } from 'react';
import { InferenceClient } from '../inference/client';
import { selfTest, type SelfTestOptions } from './selfTest';
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
  numThreads: number | null;
  crossOriginIsolated: boolean;
  volunteerId: string;
  selfTest: (options: SelfTestOptions) => ReturnType<typeof selfTest>;
}

declare global {
  interface Window {
    __tabgrid?: TabgridProbe;
  }
}

function readThreadsParam(): number | undefined {
  const raw = new URLSearchParams(location.search).get('threads');
  const n = raw ? Number.parseInt(raw, 10) : NaN;
  return Number.isFinite(n) && n >= 1 ? n : undefined;
}

let selfTestClient: InferenceClient | null = null;

/** One controller per page visit; `?autostart=1` starts it, `?threads=N` overrides WASM threads. */
export function useVolunteer(): { controller: VolunteerController; snapshot: VolunteerSnapshot } {
  const [controller] = useState(() => new VolunteerController({ numThreads: readThreadsParam() }));
  const snapshot = useSyncExternalStore(controller.subscribe, controller.getSnapshot);

  useEffect(() => {
    if (new URLSearchParams(location.search).get('autostart') === '1') controller.start();
    return () => controller.dispose();
  }, [controller]);

  useEffect(() => {
    window.__tabgrid = {
      status: snapshot.status,
      tasksDone: snapshot.tasksDone,
      tasksFailed: snapshot.tasksFailed,
      lastInferenceMs: snapshot.lastInferenceMs,
      avgInferenceMs: snapshot.avgInferenceMs,
      inferenceSamplesMs: [...controller.recentInferenceMs],
      modelLoadMs: snapshot.runtime?.loadMs ?? null,
      modelSource: snapshot.runtime?.modelSource ?? null,
      numThreads: snapshot.runtime?.numThreads ?? null,
      crossOriginIsolated: self.crossOriginIsolated,
      volunteerId: snapshot.volunteerId,
      selfTest: (options) => {
        selfTestClient ??= new InferenceClient();
        return selfTest(selfTestClient, { numThreads: readThreadsParam(), ...options });
      },
    };
  }, [snapshot, controller]);

  return { controller, snapshot };
}
