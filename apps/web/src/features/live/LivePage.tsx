import { useEffect } from 'react';
import { DetectionCanvas } from '../../components/DetectionCanvas';
import { DetectionList, shownDetections } from '../../components/DetectionList';
import { formatMs } from '../../lib/format';
import { Leaderboard, leaderboardOf } from './Leaderboard';
import { LiveCharts } from './LiveCharts';
import { KeyFigures, OperatorPanel } from './OperatorPanel';
import { MAX_RESULTS, useLiveFeed } from './useLiveFeed';
import { useTheme } from './useTheme';
import '../../components/a11y.css';
import './live.css';

const isKiosk = () => new URLSearchParams(location.search).get('kiosk') === '1';

/** Kiosk mode: no navigation bar, bigger type (a class on <body> while mounted). */
function useKiosk(kiosk: boolean): void {
  useEffect(() => {
    if (!kiosk) return;
    document.body.classList.add('kiosk');
    return () => document.body.classList.remove('kiosk');
  }, [kiosk]);
}

export function LivePage() {
  const { connected, stats, results, history } = useLiveFeed();
  const kiosk = isKiosk();
  useKiosk(kiosk);
  const { theme, toggle } = useTheme(kiosk);
  const leaders = leaderboardOf(stats);

  return (
    <section className="page live">
      <header className="page__header live__header">
        <div>
          <h1>Live</h1>
          <p className="muted">Photos as volunteers finish them, newest first.</p>
        </div>
        <div className="live__tools">
          <span
            className={`live__connection live__connection--${connected ? 'on' : 'off'}`}
            role="status"
            aria-label={connected ? 'Live updates connected' : 'Connecting to live updates'}
            data-testid="live-connection"
          >
            {connected ? 'connected' : 'connecting…'}
          </span>
          <button type="button" onClick={toggle} aria-pressed={theme === 'dark'} data-testid="theme-toggle">
            Dark theme
          </button>
          {kiosk ? (
            <button
              type="button"
              onClick={() => void document.documentElement.requestFullscreen?.().catch(() => undefined)}
            >
              Full screen
            </button>
          ) : (
            <a className="button" href="/live?kiosk=1" data-testid="kiosk-link">
              Wall mode
            </a>
          )}
        </div>
      </header>

      <div className="live__layout">
        <section className="live__wall" aria-labelledby="wall-title">
          <h2 id="wall-title" className="visually-hidden">
            Newest results (last {MAX_RESULTS})
          </h2>
          {results.length === 0 && (
            <p className="muted" data-testid="no-results">
              {stats && stats.tasks.done > 0
                ? `${stats.tasks.done} photos are done, but none you may see: their owners keep them private. Results of public jobs (and your own, when signed in) appear here.`
                : 'No results yet.'}
            </p>
          )}
          <div className="results">
            {results.map((r) => {
              const shown = shownDetections(r.detections);
              return (
                <figure key={r.id} className="task live__card" data-testid="live-result" data-own={r.own}>
                  <DetectionCanvas
                    source={r.imageUrl}
                    detections={r.detections}
                    maxWidth={300}
                    maxHeight={220}
                    className="live__canvas"
                  />
                  <figcaption>
                    <div className="task__title">
                      <span title={r.name}>{r.name}</span>
                      <span className="muted small">{new Date(r.completedAt).toLocaleTimeString()}</span>
                    </div>
                    <div className="muted small">
                      ready in {formatMs(r.latencyMs)} · by {r.volunteerName}
                    </div>
                    <DetectionList detections={shown} />
                  </figcaption>
                </figure>
              );
            })}
          </div>
        </section>

        <aside className="live__side">
          <KeyFigures stats={stats} />
          <LiveCharts history={history} theme={theme} />
          <Leaderboard rows={leaders} />
          <OperatorPanel stats={stats} />
        </aside>
      </div>
    </section>
  );
}
