import type { LiveHistoryPoint } from '@tabgrid/protocol';
import { formatMs } from '../../lib/format';
import { REFERENCE } from './OperatorPanel';
import { TimeChart } from './TimeChart';

const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
const last = <T,>(xs: readonly T[]) => xs.at(-1);

/** The wall's three charts over the last 10 minutes (points from useLiveFeed's history). */
export function LiveCharts({ history, theme }: { history: LiveHistoryPoint[]; theme: string }) {
  const times = history.map((p) => p.at / 1000);
  const now = last(history);
  const flat = (v: number) => history.map(() => v);
  return (
    <section className="live__charts" aria-labelledby="charts-title">
      <h2 id="charts-title">The last 10 minutes</h2>
      <TimeChart
        title="Photos finished per minute"
        summary={now ? `${now.resultsPerMinute} in the last minute` : 'no data yet'}
        times={times}
        series={[
          { label: 'photos / min', colour: '#2563eb', values: history.map((p) => p.resultsPerMinute) },
        ]}
        theme={theme}
        testId="chart-results"
      />
      <TimeChart
        title="Volunteers online"
        summary={now ? `${now.volunteersOnline} now` : 'no data yet'}
        times={times}
        series={[{ label: 'volunteers', colour: '#16a34a', values: history.map((p) => p.volunteersOnline) }]}
        theme={theme}
        testId="chart-volunteers"
      />
      <TimeChart
        title="How long it takes"
        summary={
          now
            ? `photo ready: typical ${formatMs(now.resultP50)}, slowest 5 % ${formatMs(now.resultP95)} (target ${formatMs(REFERENCE.resultMs)}); a volunteer answers within ${formatMs(now.ackP95)} (target ${formatMs(REFERENCE.ackMs)})`
            : 'no data yet'
        }
        times={times}
        unit=" s"
        series={[
          {
            label: 'photo ready, typical (p50)',
            colour: '#7c3aed',
            values: history.map((p) => seconds(p.resultP50)),
          },
          {
            label: 'photo ready, slowest 5 % (p95)',
            colour: '#db2777',
            values: history.map((p) => seconds(p.resultP95)),
          },
          {
            label: 'volunteer answers (p95)',
            colour: '#0891b2',
            values: history.map((p) => seconds(p.ackP95)),
          },
          { label: '4 s target', colour: '#db2777', values: flat(REFERENCE.resultMs / 1000), dashed: true },
          { label: '1 s target', colour: '#0891b2', values: flat(REFERENCE.ackMs / 1000), dashed: true },
        ]}
        theme={theme}
        testId="chart-latency"
      />
    </section>
  );
}
