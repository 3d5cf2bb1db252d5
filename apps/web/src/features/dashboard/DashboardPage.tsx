import { JobCard } from './JobCard';
import { UploadPanel } from './UploadPanel';
import { useJobs } from './useJobs';

export function DashboardPage() {
  const { ids, views, connected, addJob, removeJob } = useJobs();
  return (
    <section className="page dashboard">
      <header className="page__header">
        <h1>Detect objects in photos</h1>
        <p className="muted">
          Upload photos; volunteers’ browsers find the objects in them. Progress updates live
          {connected ? '' : ' (reconnecting…)'}.
        </p>
      </header>
      <UploadPanel onCreated={addJob} />
      <div className="jobs" data-testid="job-list">
        {ids.length === 0 && <p className="muted">No jobs yet.</p>}
        {ids.map((id) => {
          const view = views[id];
          return view ? (
            <JobCard key={id} job={view} onRemove={() => removeJob(id)} />
          ) : (
            <article key={id} className="job muted">
              Job <code>{id}</code>: loading…
            </article>
          );
        })}
      </div>
    </section>
  );
}
