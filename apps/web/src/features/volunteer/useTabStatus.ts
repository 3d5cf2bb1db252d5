import { useEffect } from 'react';

export type TabState = 'working' | 'idle' | 'paused' | 'stopped';

const TITLE: Record<TabState, string> = {
  working: '● Working · Tabgrid volunteer',
  idle: '○ Idle · Tabgrid volunteer',
  paused: '❚❚ Paused · Tabgrid volunteer',
  stopped: 'Tabgrid volunteer',
};

const COLOUR: Record<TabState, string> = {
  working: '#16a34a',
  idle: '#2563eb',
  paused: '#d97706',
  stopped: '#6b7280',
};

/** A data: URL favicon (the CSP allows `img-src data:`): a filled dot, two bars when paused. */
export function faviconFor(state: TabState): string {
  const c = COLOUR[state];
  const shape =
    state === 'paused'
      ? `<rect x="3" y="2" width="4" height="12" fill="${c}"/><rect x="9" y="2" width="4" height="12" fill="${c}"/>`
      : `<circle cx="8" cy="8" r="${state === 'working' ? 7 : 5}" fill="${c}"/>`;
  return `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">${shape}</svg>`)}`;
}

/** Shows the volunteer's state in the tab title and favicon, restoring both when the page goes away. */
export function useTabStatus(state: TabState): void {
  useEffect(() => {
    const link =
      document.querySelector<HTMLLinkElement>('link[rel="icon"]') ??
      document.head.appendChild(Object.assign(document.createElement('link'), { rel: 'icon' }));
    const before = { title: document.title, icon: link.href };
    document.title = TITLE[state];
    link.href = faviconFor(state);
    link.dataset.state = state;
    return () => {
      document.title = before.title;
      link.href = before.icon;
      delete link.dataset.state;
    };
  }, [state]);
}
