import { DUTY_CHOICES, type VolunteerSettings } from './settings';
import { batteryApiAvailable } from './usePauseSources';

const WORKER_CHOICES = [1, 2, 3, 4] as const;

export function ControlsPanel({
  settings,
  update,
  autoWorkers,
  pinnedWorkers,
}: {
  settings: VolunteerSettings;
  update(patch: Partial<VolunteerSettings>): void;
  /** The automatic worker count on this device. */
  autoWorkers: number;
  /** Set when `?workers=` fixes the pool for this visit. */
  pinnedWorkers: number | null;
}) {
  return (
    <section className="card controls" aria-labelledby="controls-title">
      <h2 id="controls-title">How much to use</h2>
      <div className="controls__grid">
        <label>
          Photos at once (processor cores)
          <select
            data-testid="cpu-workers"
            value={pinnedWorkers ?? settings.workers ?? 'auto'}
            disabled={pinnedWorkers !== null}
            onChange={(e) =>
              update({ workers: e.target.value === 'auto' ? null : Number.parseInt(e.target.value, 10) })
            }
          >
            <option value="auto">Automatic ({autoWorkers})</option>
            {WORKER_CHOICES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          Use up to
          <select
            data-testid="cpu-duty"
            value={settings.dutyPercent}
            onChange={(e) => update({ dutyPercent: Number.parseInt(e.target.value, 10) })}
          >
            {DUTY_CHOICES.map((n) => (
              <option key={n} value={n}>
                {n === 100 ? 'all of the time' : `${n} % of the time`}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset className="controls__when">
        <legend>When to work</legend>
        <label>
          <input
            type="radio"
            name="background"
            checked={!settings.background}
            onChange={() => update({ background: false })}
            data-testid="only-visible"
          />
          Only while this tab is visible
        </label>
        <label>
          <input
            type="radio"
            name="background"
            checked={settings.background}
            onChange={() => update({ background: true })}
          />
          Also in the background
        </label>
        {batteryApiAvailable() && (
          <label>
            <input
              type="checkbox"
              checked={settings.pauseOnBattery}
              onChange={(e) => update({ pauseOnBattery: e.target.checked })}
              data-testid="pause-on-battery"
            />
            Pause when running on battery
          </label>
        )}
      </fieldset>
      <p className="muted small">Your settings are saved on this device.</p>
    </section>
  );
}
