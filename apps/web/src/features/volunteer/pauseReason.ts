import type { VolunteerSettings } from './settings';

export type PauseReason = 'paused' | 'pausedForAnHour' | 'hidden' | 'onBattery';

export interface PauseInputs {
  settings: VolunteerSettings;
  now: number;
  /** document.hidden */
  hidden: boolean;
  /** True when the Battery Status API says the device runs on battery; null when unknown. */
  onBattery: boolean | null;
}

/** Why the volunteer should take no new tasks right now, or null when it may. */
export function pauseReason({ settings, now, hidden, onBattery }: PauseInputs): PauseReason | null {
  if (settings.paused) return 'paused';
  if (settings.pausedUntil !== null && settings.pausedUntil > now) return 'pausedForAnHour';
  if (!settings.background && hidden) return 'hidden';
  if (settings.pauseOnBattery && onBattery === true) return 'onBattery';
  return null;
}

export const PAUSE_TEXT: Record<PauseReason, string> = {
  paused: 'Paused by you.',
  pausedForAnHour: 'Paused for an hour.',
  hidden: 'Paused while this tab is in the background.',
  onBattery: 'Paused while your device runs on battery.',
};
