/**
 * The volunteer client's notices (written for logs: `result rejected (task_completed): …`) in
 * words a volunteer understands, and how long each stays on screen. Connection notices stay while
 * they hold (the client clears them on reconnect); one-off ones pass.
 */
export interface FriendlyNotice {
  text: string;
  /** Hide after this long (ms); null: shown while the client keeps it. */
  clearAfterMs: number | null;
}

/** How long a one-off notice (a result that was not needed) stays on screen. */
export const PASSING_MS = 8000;

const REJECTED: Record<string, string> = {
  task_completed: 'Someone else finished that photo first, or its owner cancelled it. Nothing is wrong.',
  cancelled: 'The photo’s owner cancelled it. Nothing is wrong.',
  lease_expired: 'That photo took too long and was given to someone else. Nothing is wrong.',
  not_assigned: 'That photo had already been given to someone else. Nothing is wrong.',
  impossible_result: 'The server could not accept the result for that photo; it will be tried again.',
  storage_unavailable: 'The server could not save that result just now; the photo will be tried again.',
  rate_limited: 'The server asked us to slow down; carrying on shortly.',
  shutting_down: 'The server is restarting; carrying on once it is back.',
};

export function friendlyNotice(notice: string | null): FriendlyNotice | null {
  if (!notice) return null;
  const rejected = /^result rejected \(([a-z_]+)\)/.exec(notice);
  if (rejected)
    return {
      text: REJECTED[rejected[1]!] ?? 'The server did not need that result; carrying on.',
      clearAfterMs: PASSING_MS,
    };
  if (notice.startsWith('disconnected') || notice.startsWith('cannot connect'))
    return { text: 'Lost the connection to the server; reconnecting…', clearAfterMs: null };
  if (notice.startsWith('server busy'))
    return { text: 'The server is busy; trying again shortly…', clearAfterMs: null };
  if (notice.startsWith('identity refused'))
    return {
      text: 'Joining again under a new name (the server did not know this browser).',
      clearAfterMs: PASSING_MS,
    };
  if (notice.startsWith('volunteer:state rejected'))
    return {
      text: 'The server did not take the pause or resume; it is tried again.',
      clearAfterMs: PASSING_MS,
    };
  if (notice.startsWith('stopped: ')) return { text: notice.slice('stopped: '.length), clearAfterMs: null };
  return { text: notice, clearAfterMs: PASSING_MS };
}
