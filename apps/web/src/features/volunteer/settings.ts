/** The volunteer's controls, persisted in localStorage (validated on read: old or hand-edited values fall back). */
import { z } from 'zod';
import { VOLUNTEER_SETTINGS_KEY } from './storageKeys';

export const DUTY_CHOICES = [100, 75, 50, 25] as const;

const SettingsSchema = z.object({
  /** Inference workers; null = automatic (one per core, at most 4). */
  workers: z.number().int().min(1).max(8).nullable().catch(null),
  /** Use up to this share of the time (percent). */
  dutyPercent: z
    .number()
    .int()
    .refine((n) => (DUTY_CHOICES as readonly number[]).includes(n))
    .catch(100),
  paused: z.boolean().catch(false),
  /** Paused until this epoch ms ("pause for 1 hour"); null when not. */
  pausedUntil: z.number().nullable().catch(null),
  /** Keep working while the tab is hidden. */
  background: z.boolean().catch(true),
  pauseOnBattery: z.boolean().catch(false),
  /** Volunteering was started and not stopped: a reload starts again (with the same pause). */
  running: z.boolean().catch(false),
});

export type VolunteerSettings = z.infer<typeof SettingsSchema>;

export const DEFAULT_SETTINGS: VolunteerSettings = {
  workers: null,
  dutyPercent: 100,
  paused: false,
  pausedUntil: null,
  background: true,
  pauseOnBattery: false,
  running: false,
};

export function loadSettings(): VolunteerSettings {
  try {
    const raw = localStorage.getItem(VOLUNTEER_SETTINGS_KEY);
    if (!raw) return DEFAULT_SETTINGS;
    const parsed = SettingsSchema.safeParse({ ...DEFAULT_SETTINGS, ...(JSON.parse(raw) as object) });
    return parsed.success ? parsed.data : DEFAULT_SETTINGS;
  } catch {
    return DEFAULT_SETTINGS;
  }
}

export function saveSettings(settings: VolunteerSettings): void {
  try {
    localStorage.setItem(VOLUNTEER_SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // Storage blocked: settings hold for this visit only.
  }
}
