import type { VolunteerCredits } from '@tabgrid/protocol';
import type { Tally } from './tally';

/** What this device has done: today, in all (local tally), and credits when the server keeps a ledger. */
export function ContributionPanel({
  tally,
  credits,
  displayName,
}: {
  tally: Tally;
  credits: VolunteerCredits | null;
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
        <div>
          <dt>Others see you as</dt>
          <dd data-testid="display-name">{displayName ?? '—'}</dd>
        </div>
      </dl>
      {credits !== null && <Credits credits={credits} />}
    </section>
  );
}

/** The server's ledger for this volunteer, with what the numbers mean (docs/SECURITY.md "Credits"). */
function Credits({ credits }: { credits: VolunteerCredits }) {
  return (
    <div data-testid="credits" aria-labelledby="credits-title">
      <h3 id="credits-title">Credits</h3>
      <dl className="figures">
        <div>
          <dt>Granted today</dt>
          <dd data-testid="credits-today-granted">{credits.today.granted}</dd>
        </div>
        <div>
          <dt>Pending today</dt>
          <dd data-testid="credits-today-pending">{credits.today.pending}</dd>
        </div>
        <div>
          <dt>Granted in all</dt>
          <dd data-testid="credits-total-granted">{credits.total.granted}</dd>
        </div>
        <div>
          <dt>Pending in all</dt>
          <dd data-testid="credits-total-pending">{credits.total.pending}</dd>
        </div>
        {credits.total.revoked > 0 && (
          <div>
            <dt>Revoked</dt>
            <dd data-testid="credits-revoked">{credits.total.revoked}</dd>
          </div>
        )}
      </dl>
      <p className="muted" data-testid="credits-explained">
        10 credits per photo. Pending credits wait for another volunteer or the server to check the result,
        and are revoked if it turns out wrong; granted credits were checked, and are revoked only if you are
        later caught sending wrong results.{' '}
        {credits.quickBonus
          ? 'Your quick returns earn a 50 % bonus.'
          : 'Quick returns earn a 50 % bonus once 10 of your results are verified (at least 80 % of them good).'}
      </p>
    </div>
  );
}
