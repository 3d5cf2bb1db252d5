import { useEffect, useState } from 'react';
import { loadSettings, saveSettings, type VolunteerSettings } from './settings';
import { addToTally, loadTally, saveTally, type Tally } from './tally';
import { pauseReason, type PauseReason } from './pauseReason';
import { usePauseSources } from './usePauseSources';
import type { VolunteerController, VolunteerSnapshot } from './volunteerController';

export const HOUR_MS = 60 * 60 * 1000;

export interface Controls {
  settings: VolunteerSettings;
  update(patch: Partial<VolunteerSettings>): void;
  /** Why no new tasks are taken now (null: not paused by any control). */
  reason: PauseReason | null;
  tally: Tally;
}

/**
 * The persisted controls, applied to the controller: the pause reasons become the
 * client's pause, the duty cycle goes to the socket worker, and the worker count
 * replaces the pool (unless `?workers=` pinned it). Also keeps the local tally.
 */
export function useControls(controller: VolunteerController, snapshot: VolunteerSnapshot): Controls {
  const [settings, setSettings] = useState(loadSettings);
  const { hidden, onBattery, now } = usePauseSources(settings.pausedUntil);
  const reason = pauseReason({ settings, now, hidden, onBattery });

  const update = (patch: Partial<VolunteerSettings>) =>
    setSettings((s) => {
      const next = { ...s, ...patch };
      saveSettings(next);
      return next;
    });

  useEffect(() => controller.setPaused(reason !== null), [controller, reason]);
  useEffect(() => controller.setDutyCycle(settings.dutyPercent / 100), [controller, settings.dutyPercent]);
  useEffect(() => {
    if (new URLSearchParams(location.search).has('workers')) return; // pinned by the URL
    controller.setWorkers(settings.workers ?? undefined);
  }, [controller, settings.workers]);

  // The tally: add each newly acknowledged result (tasksDone restarts at 0 with a new socket worker).
  const [tally, setTally] = useState(loadTally);
  const [seen, setSeen] = useState(snapshot.tasksDone);
  if (snapshot.tasksDone !== seen) {
    const added = snapshot.tasksDone > seen ? snapshot.tasksDone - seen : 0;
    setSeen(snapshot.tasksDone);
    if (added > 0) setTally((t) => addToTally(t, added));
  }
  useEffect(() => saveTally(tally), [tally]);

  return { settings, update, reason, tally };
}
