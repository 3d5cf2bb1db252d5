/** Tasks done on this device, today and in all, kept in localStorage across visits. */
import { VOLUNTEER_TALLY_KEY } from './storageKeys';

export interface Tally {
  /** Local calendar day (YYYY-MM-DD) `today` counts. */
  day: string;
  today: number;
  total: number;
}

export const localDay = (at = new Date()): string =>
  `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, '0')}-${String(at.getDate()).padStart(2, '0')}`;

/** Adds `done` tasks to a tally, starting a new day's count when the day changed. */
export function addToTally(tally: Tally, done: number, day = localDay()): Tally {
  const today = tally.day === day ? tally.today : 0;
  return { day, today: today + done, total: tally.total + done };
}

export function loadTally(): Tally {
  const empty = { day: localDay(), today: 0, total: 0 };
  try {
    const raw = JSON.parse(localStorage.getItem(VOLUNTEER_TALLY_KEY) ?? 'null') as Partial<Tally> | null;
    if (!raw || typeof raw.total !== 'number' || typeof raw.today !== 'number' || typeof raw.day !== 'string')
      return empty;
    return addToTally(raw as Tally, 0);
  } catch {
    return empty;
  }
}

export function saveTally(tally: Tally): void {
  try {
    localStorage.setItem(VOLUNTEER_TALLY_KEY, JSON.stringify(tally));
  } catch {
    // Storage blocked: the tally holds for this visit only.
  }
}
