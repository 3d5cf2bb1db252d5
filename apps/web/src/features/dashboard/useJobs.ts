import {
  applyJobChanges,
  type JobCreated,
  type JobSummary,
  type JobView,
  type LiveStats,
} from '@tabgrid/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  FIRST_JOBS_PAGE,
  askedEarly,
  cancelJob,
  deleteJob,
  describeError as describe,
  fetchJob,
  listJobs,
} from '../../lib/api';
import { createLiveSocket, type LiveSocket } from '../../lib/socket';
import { placeholderView } from './jobStore';

const WATCH_TIMEOUT_MS = 5000;
/** How long a job's view may disagree with the server's counts before it is watched again. */
const RESYNC_MS = 1000;
/** Jobs listed per "Older jobs" (the first page: FIRST_JOBS_PAGE). */
const NEXT_PAGE = 10;

/** What the job's pushed view does not carry: from the job list, `GET /api/jobs/:id` or a cancel. */
export interface JobMeta {
  cancelledAt: number | null;
  expected: number | null;
}

export interface JobsState {
  ids: string[];
  views: Record<string, JobView | undefined>;
  /** From the job list: enough for a card before the job's whole view arrives. */
  summaries: Record<string, JobSummary | undefined>;
  meta: Record<string, JobMeta | undefined>;
  connected: boolean;
  /** More (older) jobs on the server. */
  hasMore: boolean;
  error: string | null;
  /** The latest figures pushed on `/live` (volunteers online, throughput), for the queue banner. */
  stats: LiveStats | null;
}

/** Tasks of a view that are done or failed. */
const settled = (view: JobView | undefined) =>
  view ? view.tasks.filter((t) => t.status === 'done' || t.status === 'failed').length : -1;

/**
 * The signed-in requester's jobs: the list from `GET /api/jobs` (so history follows the key,
 * not the browser), each kept live through `/live` (connected with the key): `job:watch` per
 * job (the ack carries the current view), then `job:update` pushes. Re-watches on reconnect.
 */
export function useJobs(apiKey: string): JobsState & {
  addJob: (created: JobCreated) => void;
  /** Photos were added to a job (`POST /api/jobs/:id/images`): fetch its view again. */
  jobGrew: (created: JobCreated) => void;
  removeJob: (id: string) => Promise<void>;
  /** `POST /api/jobs/:id/cancel`: the card stays, with its results. */
  stopJob: (id: string) => Promise<void>;
  loadMore: () => void;
} {
  const [ids, setIds] = useState<string[]>([]);
  const [views, setViews] = useState<Record<string, JobView | undefined>>({});
  const [summaries, setSummaries] = useState<Record<string, JobSummary | undefined>>({});
  const addSummaries = useCallback(
    (list: JobSummary[]) =>
      setSummaries((all) => ({ ...all, ...Object.fromEntries(list.map((j) => [j.id, j])) })),
    [],
  );
  const [meta, setMeta] = useState<Record<string, JobMeta | undefined>>({});
  const setMetaOf = useCallback(
    (id: string, m: Partial<JobMeta>) =>
      setMeta((all) => ({ ...all, [id]: { cancelledAt: null, expected: null, ...all[id], ...m } })),
    [],
  );
  const [connected, setConnected] = useState(false);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [stats, setStats] = useState<LiveStats | null>(null);
  const socketRef = useRef<LiveSocket | null>(null);
  const idsRef = useRef(ids);
  idsRef.current = ids;

  const setView = useCallback((view: JobView) => setViews((v) => ({ ...v, [view.id]: view })), []);

  /** The job's view from the API, unless a pushed (newer) view is already there. */
  const fetchView = useCallback(
    (jobId: string) => {
      fetchJob(jobId).then(
        (view) => {
          // Taken over a placeholder (or an older view) when it has progressed further: a
          // placeholder kept over the API's answer showed '0/100' while 11 were done.
          setViews((v) => (settled(v[jobId]) > settled(view) ? v : { ...v, [jobId]: view }));
          setMetaOf(jobId, { cancelledAt: view.cancelledAt ?? null, expected: view.expected ?? null });
        },
        () => {
          // deleted, or the network failed: the next (re)connect watches it again
        },
      );
    },
    [setMetaOf],
  );

  const watch = useCallback(
    (jobId: string) => {
      const socket = socketRef.current;
      // Not connected yet: watched on connect; meanwhile the API shows it, so no job waits on
      // the socket to appear.
      if (!socket?.connected) return fetchView(jobId);
      socket
        .timeout(WATCH_TIMEOUT_MS)
        // Only what changes afterwards (rule L12): a 10,000-photo job is not sent again whole.
        .emitWithAck('job:watch', { jobId, changes: true })
        .then((res) => (res.ok ? setView(res.data) : fetchView(jobId)))
        .catch(() => fetchView(jobId)); // ack timeout: the next reconnect watches again
    },
    [setView, fetchView],
  );

  const resyncTimers = useRef(new Map<string, number>());
  /**
   * A job whose counts disagree with the server's after a change (a change missed, or one still
   * on its way from another gateway): watched again in a second, which answers its whole view.
   */
  const resyncSoon = useCallback(
    (jobId: string) => {
      if (resyncTimers.current.has(jobId)) return;
      resyncTimers.current.set(
        jobId,
        window.setTimeout(() => {
          resyncTimers.current.delete(jobId);
          if (idsRef.current.includes(jobId)) watch(jobId);
        }, RESYNC_MS),
      );
    },
    [watch],
  );

  const addIds = useCallback(
    (more: string[], atFront: boolean) => {
      const fresh = more.filter((id) => !idsRef.current.includes(id));
      const rest = idsRef.current.filter((id) => !fresh.includes(id));
      // The ref changes now, not at the next render: a socket that connects in between
      // watches every known job.
      idsRef.current = atFront ? [...fresh, ...rest] : [...rest, ...fresh];
      setIds(idsRef.current);
      for (const id of fresh) watch(id);
    },
    [watch],
  );

  const loadPage = useCallback(
    (from: string | null) => {
      // A short first page: the newest jobs show at once however long the history is.
      (from === null
        ? askedEarly('jobs', apiKey, () => listJobs(null, FIRST_JOBS_PAGE))
        : listJobs(from, NEXT_PAGE)
      ).then(
        (page) => {
          const kept = page.jobs.filter((j: JobSummary) => j.deletedAt === null);
          addSummaries(kept);
          for (const j of kept)
            setMetaOf(j.id, { cancelledAt: j.cancelledAt ?? null, expected: j.expected ?? null });
          addIds(
            kept.map((j) => j.id),
            false,
          );
          setCursor(page.nextCursor);
        },
        (err: unknown) => setError(describe(err)),
      );
    },
    [addIds, setMetaOf, addSummaries, apiKey],
  );

  useEffect(() => {
    const socket = createLiveSocket(apiKey);
    socketRef.current = socket;
    socket.on('connect', () => {
      setConnected(true);
      for (const id of idsRef.current) watch(id);
    });
    socket.on('disconnect', () => setConnected(false));
    socket.on('live:snapshot', (snapshot) => setStats(snapshot.stats));
    socket.on('live:stats', setStats);
    socket.on('job:update', (view) => {
      if (idsRef.current.includes(view.id)) setView(view);
    });
    socket.on('job:changes', (changes) => {
      if (!idsRef.current.includes(changes.id)) return;
      setViews((v) => {
        const view = v[changes.id];
        if (!view) return v; // the watch's answer brings the whole view
        const next = applyJobChanges(view, changes);
        if (!next.consistent) resyncSoon(changes.id);
        return next.view === view ? v : { ...v, [changes.id]: next.view };
      });
    });
    // A job made elsewhere with this key (another browser, the CLI): its first result names it.
    socket.on('live:result', (result) => {
      if (result.own && result.jobId && !idsRef.current.includes(result.jobId)) addIds([result.jobId], true);
    });
    socket.connect();
    loadPage(null);
    // Back to this tab: jobs created meanwhile elsewhere (still queued, so no result yet) appear.
    const onVisible = () => {
      if (document.visibilityState !== 'visible') return;
      listJobs(null).then(
        (page) => {
          const fresh = page.jobs.filter((j) => j.deletedAt === null && !idsRef.current.includes(j.id));
          addSummaries(fresh);
          for (const j of fresh)
            setMetaOf(j.id, { cancelledAt: j.cancelledAt ?? null, expected: j.expected ?? null });
          if (fresh.length > 0)
            addIds(
              fresh.map((j) => j.id),
              true,
            );
        },
        () => undefined,
      );
    };
    document.addEventListener('visibilitychange', onVisible);
    const timers = resyncTimers.current;
    return () => {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      document.removeEventListener('visibilitychange', onVisible);
      socket.removeAllListeners();
      socket.disconnect();
      socketRef.current = null;
    };
  }, [apiKey, watch, setView, loadPage, addIds, setMetaOf, resyncSoon, addSummaries]);

  const addJob = useCallback(
    (created: JobCreated) => {
      setViews((v) => ({ ...v, [created.id]: v[created.id] ?? placeholderView(created) }));
      addIds([created.id], true);
    },
    [addIds],
  );

  const jobGrew = useCallback(
    (created: JobCreated) => {
      setViews((v) => {
        const view = v[created.id];
        if (!view) return v;
        const known = new Set(view.tasks.map((t) => t.id));
        const added = placeholderView(created).tasks.filter((t) => !known.has(t.id));
        return { ...v, [created.id]: { ...view, status: 'queued', tasks: [...view.tasks, ...added] } };
      });
      watch(created.id);
    },
    [watch],
  );

  const removeJob = useCallback(async (id: string) => {
    setError(null);
    try {
      await deleteJob(id);
    } catch (err) {
      setError(describe(err));
      return;
    }
    socketRef.current?.emit('job:unwatch', { jobId: id }, () => undefined);
    setIds((prev) => prev.filter((x) => x !== id));
  }, []);

  const stopJob = useCallback(
    async (id: string) => {
      setError(null);
      try {
        const { cancelledAt } = await cancelJob(id);
        setMetaOf(id, { cancelledAt });
      } catch (err) {
        setError(describe(err));
      }
    },
    [setMetaOf],
  );

  const loadMore = useCallback(() => {
    if (cursor) loadPage(cursor);
  }, [cursor, loadPage]);

  return {
    ids,
    views,
    summaries,
    meta,
    connected,
    hasMore: cursor !== null,
    error,
    stats,
    addJob,
    jobGrew,
    removeJob,
    stopJob,
    loadMore,
  };
}
