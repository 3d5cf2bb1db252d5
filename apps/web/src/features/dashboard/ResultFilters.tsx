import { useId } from 'react';
import { SCORE, type ResultFilter } from './resultFilter';

interface Props {
  filter: ResultFilter;
  /** Classes at the current score, with counts. */
  counts: [string, number][];
  onChange: (filter: ResultFilter) => void;
}

/** The score slider and one toggle per class (with its count) for a job's results. */
export function ResultFilters({ filter, counts, onChange }: Props) {
  const sliderId = useId();
  return (
    <div className="filters" data-testid="result-filters">
      <label htmlFor={sliderId} className="filters__score">
        Minimum score <output data-testid="score-value">{filter.minScore.toFixed(2)}</output>
      </label>
      <input
        id={sliderId}
        type="range"
        min={SCORE.min}
        max={SCORE.max}
        step={SCORE.step}
        value={filter.minScore}
        data-testid="score-slider"
        onChange={(ev) => onChange({ ...filter, minScore: Number(ev.currentTarget.value) })}
      />
      {counts.length > 0 && (
        <fieldset className="filters__classes">
          <legend className="small muted">Classes</legend>
          {counts.map(([label, n]) => (
            <label key={label} className="chip">
              <input
                type="checkbox"
                checked={!filter.hidden.has(label)}
                data-testid="class-toggle"
                data-label={label}
                onChange={(ev) => {
                  const hidden = new Set(filter.hidden);
                  if (ev.currentTarget.checked) hidden.delete(label);
                  else hidden.add(label);
                  onChange({ ...filter, hidden });
                }}
              />{' '}
              {label} <span className="muted">({n})</span>
            </label>
          ))}
        </fieldset>
      )}
    </div>
  );
}
