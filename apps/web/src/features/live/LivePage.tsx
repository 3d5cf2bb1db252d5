import { DetectionCanvas } from '../../components/DetectionCanvas';
import { DetectionList, shownDetections } from '../../components/DetectionList';
import { formatMs } from '../../lib/format';
import { StatsPanel } from './StatsPanel';
import { MAX_RESULTS, useLiveFeed } from './useLiveFeed';

export function LivePage() {
  const { connected, stats, results } = useLiveFeed();
  return (
    <section className="page live">
      <header className="page__header">
        <h1>Live</h1>
        <p className="muted">
          Results as volunteers return them (newest first, last {MAX_RESULTS}): photos their owners made
          public, and your own when you are signed in.{' '}
          <span data-testid="live-connection">{connected ? 'connected' : 'connecting…'}</span>
        </p>
      </header>
      <StatsPanel stats={stats} />
      <div className="results">
        {results.length === 0 && <p className="muted">No results yet.</p>}
        {results.map((r) => {
          const shown = shownDetections(r.detections);
          return (
            <figure key={r.id} className="task" data-testid="live-result" data-own={r.own}>
              <DetectionCanvas source={r.imageUrl} detections={r.detections} maxWidth={300} maxHeight={220} />
              <figcaption>
                <div className="task__title">
                  <span title={r.name}>{r.name}</span>
                  <span className="muted small">{new Date(r.completedAt).toLocaleTimeString()}</span>
                </div>
                <div className="muted small">
                  inference {formatMs(r.inferenceMs)} · total {formatMs(r.latencyMs)} · {r.volunteerName}
                </div>
                <DetectionList detections={shown} />
              </figcaption>
            </figure>
          );
        })}
      </div>
    </section>
  );
}
