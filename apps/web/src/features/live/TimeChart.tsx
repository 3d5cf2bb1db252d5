/**
 * One live chart: a uPlot line chart (canvas) over the last 10 minutes, with its
 * legend in HTML (uPlot's own legend and cursor are off) and a text summary for
 * screen readers. The chart is created once per theme and fed with `setData`.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  colour: string;
  values: (number | null)[];
  /** Reference lines are drawn dashed. */
  dashed?: boolean;
}

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export function TimeChart({
  title,
  summary,
  times,
  series,
  theme,
  testId,
  unit,
}: {
  title: string;
  /** What the chart shows now, in words (the accessible description). */
  summary: string;
  /** Unix seconds, oldest first. */
  times: number[];
  series: ChartSeries[];
  theme: string;
  testId: string;
  unit?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = [times, ...series.map((s) => s.values)] as uPlot.AlignedData;
  const shape = series.map((s) => `${s.label}:${s.colour}:${s.dashed ? 1 : 0}`).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axisColour = cssVar('--muted') || '#6b7280';
    const gridColour = cssVar('--border') || '#e5e7eb';
    const axis: uPlot.Axis = {
      stroke: axisColour,
      grid: { stroke: gridColour, width: 1 },
      ticks: { stroke: gridColour, width: 1 },
    };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 150,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [
        axis,
        { ...axis, size: 44, ...(unit ? { values: (_u, ticks) => ticks.map((t) => `${t}${unit}`) } : {}) },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.colour,
          width: s.dashed ? 1.5 : 2,
          ...(s.dashed ? { dash: [6, 4] } : {}),
          spanGaps: false,
          points: { show: false },
        })),
      ],
    };
    const chart = new uPlot(opts, [[], ...series.map(() => [])] as uPlot.AlignedData, el);
    plot.current = chart;
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(200, el.clientWidth), height: 150 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // Rebuilt only when the theme or the set of series changes; data goes through setData below.
  }, [theme, shape]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <figure className="chart" data-testid={testId} data-points={times.length}>
      <figcaption>
        <span className="chart__title">{title}</span>
        <span className="chart__legend" aria-hidden="true">
          {series.map((s) => (
            <span key={s.label} className={`chart__key${s.dashed ? ' chart__key--dashed' : ''}`}>
              <svg width="18" height="8" viewBox="0 0 18 8" aria-hidden="true">
                <line
                  x1="0"
                  y1="4"
                  x2="18"
                  y2="4"
                  stroke={s.colour}
                  strokeWidth="2"
                  strokeDasharray={s.dashed ? '4 3' : undefined}
                />
              </svg>
              {s.label}
            </span>
          ))}
        </span>
      </figcaption>
      <div ref={box} className="chart__plot" role="img" aria-label={`${title}: ${summary}`} />
    </figure>
  );
}
