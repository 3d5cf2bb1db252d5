import { useEffect, useState } from 'react';

/** The slice of the Battery Status API used here (not in TypeScript's DOM lib; Chromium only). */
interface BatteryLike extends EventTarget {
  charging: boolean;
}
type NavigatorWithBattery = Navigator & { getBattery?: () => Promise<BatteryLike> };

/** Whether the Battery Status API exists in this browser (the "pause on battery" control shows only then). */
export const batteryApiAvailable = (): boolean =>
  typeof (navigator as NavigatorWithBattery).getBattery === 'function';

/** The tab's visibility, the battery state (null when unknown) and a clock that ticks when `until` passes. */
export function usePauseSources(until: number | null): {
  hidden: boolean;
  onBattery: boolean | null;
  now: number;
} {
  const [hidden, setHidden] = useState(() => document.hidden);
  const [onBattery, setOnBattery] = useState<boolean | null>(null);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    const onVisibility = () => setHidden(document.hidden);
    document.addEventListener('visibilitychange', onVisibility);
    return () => document.removeEventListener('visibilitychange', onVisibility);
  }, []);

  useEffect(() => {
    const nav = navigator as NavigatorWithBattery;
    if (!nav.getBattery) return;
    let battery: BatteryLike | null = null;
    const update = () => setOnBattery(battery ? !battery.charging : null);
    void nav
      .getBattery()
      .then((b) => {
        battery = b;
        b.addEventListener('chargingchange', update);
        update();
      })
      .catch(() => setOnBattery(null));
    return () => battery?.removeEventListener('chargingchange', update);
  }, []);

  useEffect(() => {
    setNow(Date.now());
    if (until === null || until <= Date.now()) return;
    // Timers are capped near 24.8 days; an hour is far below that.
    const timer = setTimeout(() => setNow(Date.now()), until - Date.now() + 50);
    return () => clearTimeout(timer);
  }, [until]);

  return { hidden, onBattery, now };
}
