import type { Tally } from './tally';

/** What this device has done: today, in all (local tally), and credits when the server keeps a ledger. */
export function ContributionPanel({
  tally,
  credits,
  displayName,
}: {
  tally: Tally;
  credits: number | null;
  displayName: string | null;
}) {
  return (
    <section className="card" aria-labelledby="contribution-title">
      <h2 id="contribution-title">Your contribution</h2>
      <dl className="figures">
        <div>
          <dt>Photos today</dt>
          <dd data-testid="tally-today">{tally.today}</dd>
        </div>
        <div>
          <dt>Photos in all</dt>
          <dd data-testid="tally-total">{tally.total}</dd>
        </div>
        {credits !== null && (
          <div>
            <dt>Credits</dt>
            <dd data-testid="credits">{credits}</dd>
          </div>
        )}
        <div>
          <dt>Others see you as</dt>
          <dd data-testid="display-name">{displayName ?? '—'}</dd>
        </div>
      </dl>
    </section>
  );
}
