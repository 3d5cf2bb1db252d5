import { AccountBar } from '../signin/AccountBar';
import { SignInPanel } from '../signin/SignInPanel';
import { useSignIn } from '../signin/useSignIn';
import type { Me } from '@tabgrid/protocol';
import './dashboard.css';
import { JobCard } from './JobCard';
import { QueueBanner } from './QueueBanner';
import { UploadPanel } from './UploadPanel';
import { useJobs } from './useJobs';

/** The requester's page: sign in, upload, follow and delete this key's jobs. */
export function DashboardPage() {
  const signIn = useSignIn();
  return (
    <section className="page dashboard">
      <header className="page__header">
        <h1>Detect objects in photos</h1>
        {signIn.status === 'signed-in' && <AccountBar me={signIn.me} onSignOut={signIn.signOut} />}
      </header>
      {signIn.status === 'checking' && <p className="muted">Signing in…</p>}
      {signIn.status === 'signed-out' && <SignInPanel error={signIn.error} onSignIn={signIn.signIn} />}
      {signIn.status === 'signed-in' && <Jobs apiKey={signIn.apiKey} limits={signIn.me.limits} />}
    </section>
  );
}

function Jobs({ apiKey, limits }: { apiKey: string; limits: Me['limits'] }) {
  const { ids, views, connected, hasMore, error, stats, addJob, jobGrew, removeJob, loadMore } =
    useJobs(apiKey);
  return (
    <>
      <p className="muted">
        Upload photos; volunteers’ browsers find the objects in them. Progress updates live
        {connected ? '' : ' (reconnecting…)'}.
      </p>
      <QueueBanner stats={stats} />
      <UploadPanel
        limits={limits}
        onStored={(created, first) => (first ? addJob(created) : jobGrew(created))}
      />
      {error && (
        <div className="error-box" role="alert">
          {error}
        </div>
      )}
      <div className="jobs" data-testid="job-list">
        {ids.length === 0 && <p className="muted">No jobs yet.</p>}
        {ids.map((id) => {
          const view = views[id];
          return view ? (
            <JobCard key={id} job={view} onDelete={() => removeJob(id)} />
          ) : (
            <article key={id} className="job muted">
              Job <code>{id}</code>: loading…
            </article>
          );
        })}
        {hasMore && (
          <button type="button" onClick={loadMore} data-testid="load-more">
            Older jobs
          </button>
        )}
      </div>
    </>
  );
}
