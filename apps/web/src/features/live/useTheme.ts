import { useEffect, useLayoutEffect, useState } from 'react';

export type Theme = 'light' | 'dark';
const THEME_KEY = 'tabgrid.live.theme';

function stored(): Theme | null {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === 'light' || v === 'dark' ? v : null;
  } catch {
    return null;
  }
}

/**
 * The live wall's theme: the viewer's saved choice, else dark in kiosk mode (projectors),
 * else the system's `prefers-color-scheme`. Applied as `data-theme` on <html> while mounted.
 */
export function useTheme(kiosk: boolean): { theme: Theme; toggle(): void } {
  const [choice, setChoice] = useState<Theme | null>(stored);
  const [systemDark, setSystemDark] = useState(() => matchMedia('(prefers-color-scheme: dark)').matches);

  useEffect(() => {
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const onChange = () => setSystemDark(mq.matches);
    mq.addEventListener('change', onChange);
    return () => mq.removeEventListener('change', onChange);
  }, []);

  const theme: Theme = choice ?? (kiosk || systemDark ? 'dark' : 'light');

  // A layout effect: applied before the charts' (passive) effects read the theme's colours.
  useLayoutEffect(() => {
    document.documentElement.dataset.theme = theme;
    return () => {
      delete document.documentElement.dataset.theme;
    };
  }, [theme]);

  const toggle = () => {
    const next: Theme = theme === 'dark' ? 'light' : 'dark';
    setChoice(next);
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      // not saved: holds for this visit
    }
  };
  return { theme, toggle };
}
