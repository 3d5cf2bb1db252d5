import type { LiveStats } from '@tabgrid/protocol';
import { formatDuration, queueStatus } from './queueStatus';

/** Whether photos will be processed soon: nobody online, or an estimate from the current rate. */
export function QueueBanner({ stats }: { stats: LiveStats | null }) {
  const status = queueStatus(stats);
  switch (status.kind) {
    case 'unknown':
      return null;
    case 'no-volunteers':
      return (
        <div className="banner banner--warn" role="status" data-testid="queue-banner" data-kind={status.kind}>
          <strong>No volunteer is online right now.</strong> Photos you upload wait in the queue
          {status.waiting > 0 ? ` (${status.waiting} waiting)` : ''} until someone opens the{' '}
          <a href="/volunteer">volunteer page</a>.
        </div>
      );
    case 'none-ready': {
      const { volunteers: n, paused } = status;
      const who =
        paused === n
          ? n === 1
            ? 'paused'
            : n === 2
              ? 'both paused'
              : 'all paused'
          : paused > 0
            ? `${paused} paused, the others not taking work right now`
            : 'none taking work right now';
      return (
        <div className="banner banner--warn" role="status" data-testid="queue-banner" data-kind={status.kind}>
          <strong>
            {n} volunteer{n === 1 ? '' : 's'} online, {who}:
          </strong>{' '}
          {status.waiting > 0
            ? `your photos wait (${status.waiting} waiting) until someone resumes.`
            : 'photos you upload wait until someone resumes.'}
        </div>
      );
    }
    case 'idle':
      return (
        <div className="banner" role="status" data-testid="queue-banner" data-kind={status.kind}>
          {status.volunteers} volunteer{status.volunteers === 1 ? '' : 's'} online; the queue is empty.
        </div>
      );
    case 'working':
      return (
        <div className="banner" role="status" data-testid="queue-banner" data-kind={status.kind}>
          {status.volunteers} volunteer{status.volunteers === 1 ? '' : 's'} online, {status.waiting} photo
          {status.waiting === 1 ? '' : 's'} waiting (everyone’s).{' '}
          {status.etaMs === null
            ? 'Estimating how long they take…'
            : `At the last minute’s rate (${status.perMinute} per minute) they are done in about ${formatDuration(status.etaMs)}.`}
        </div>
      );
  }
}
