import type { JobCreated, JobSummary, JobView, LiveStats } from '@tabgrid/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { cancelJob, deleteJob, describeError as describe, fetchJob, listJobs } from '../../lib/api';
import { createLiveSocket, type LiveSocket } from '../../lib/socket';
import { placeholderView } from './jobStore';

const WATCH_TIMEOUT_MS = 5000;
/** Jobs listed at first, and per "Older jobs". */
const FIRST_PAGE = 5;
const NEXT_PAGE = 10;

/** What the job's pushed view does not carry: from the job list, `GET /api/jobs/:id` or a cancel. */
export interface JobMeta {
  cancelledAt: number | null;
  expected: number | null;
}

export interface JobsState {
  ids: string[];
  views: Record<string, JobView | undefined>;
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
        .emitWithAck('job:watch', { jobId })
        .then((res) => (res.ok ? setView(res.data) : fetchView(jobId)))
        .catch(() => fetchView(jobId)); // ack timeout: the next reconnect watches again
    },
    [setView, fetchView],
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
      listJobs(from, from === null ? FIRST_PAGE : NEXT_PAGE).then(
        (page) => {
          const kept = page.jobs.filter((j: JobSummary) => j.deletedAt === null);
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
    [addIds, setMetaOf],
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
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      socket.removeAllListeners();
      socket.disconnect();
      socketRef.current = null;
    };
  }, [apiKey, watch, setView, loadPage, addIds, setMetaOf]);

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
