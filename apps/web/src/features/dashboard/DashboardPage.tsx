import { AccountBar } from '../signin/AccountBar';
import { SignInPanel } from '../signin/SignInPanel';
import { useSignIn } from '../signin/useSignIn';
import type { Me } from '@tabgrid/protocol';
import { useState } from 'react';
import './dashboard.css';
import { JobCard } from './JobCard';
import { QueueBanner } from './QueueBanner';
import { ResumeUpload } from './ResumeUpload';
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
      {signIn.status === 'signed-out' && (
        <SignInPanel error={signIn.error} tried={signIn.tried} onSignIn={signIn.signIn} />
      )}
      {signIn.status === 'signed-in' && <Jobs apiKey={signIn.apiKey} limits={signIn.me.limits} />}
    </section>
  );
}

function Jobs({ apiKey, limits }: { apiKey: string; limits: Me['limits'] }) {
  const {
    ids,
    views,
    summaries,
    meta,
    connected,
    hasMore,
    error,
    stats,
    addJob,
    jobGrew,
    removeJob,
    stopJob,
    loadMore,
  } = useJobs(apiKey);
  const [uploading, setUploading] = useState(false);
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
        onBusy={setUploading}
        isFinished={(id) => views[id]?.status === 'done' || views[id]?.status === 'failed'}
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
          const summary = summaries[id];
          return view || summary ? (
            <JobCard
              key={id}
              job={view}
              summary={summary}
              cancelledAt={meta[id]?.cancelledAt ?? null}
              onCancel={() => stopJob(id)}
              onDelete={() => removeJob(id)}
            >
              {view &&
                !uploading &&
                meta[id]?.cancelledAt == null &&
                (meta[id]?.expected ?? 0) > view.tasks.length && (
                  <ResumeUpload
                    jobId={id}
                    tasks={view.tasks}
                    expected={meta[id]!.expected!}
                    limits={limits}
                    onStored={jobGrew}
                  />
                )}
            </JobCard>
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
