import type { JobCreated, JobView } from '@tabgrid/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { createLiveSocket, type LiveSocket } from '../../lib/socket';
import { loadJobIds, placeholderView, saveJobIds } from './jobStore';

const WATCH_TIMEOUT_MS = 5000;

export interface JobsState {
  ids: string[];
  views: Record<string, JobView | undefined>;
  connected: boolean;
}

/**
 * The dashboard's jobs, kept live through `/live`: `job:watch` per job (the ack
 * carries the current view), then `job:update` pushes. Re-watches on reconnect.
 * No polling.
 */
export function useJobs(): JobsState & {
  addJob: (created: JobCreated) => void;
  removeJob: (id: string) => void;
} {
  const [ids, setIds] = useState<string[]>(loadJobIds);
  const [views, setViews] = useState<Record<string, JobView | undefined>>({});
  const [connected, setConnected] = useState(false);
  const socketRef = useRef<LiveSocket | null>(null);
  const idsRef = useRef(ids);
  idsRef.current = ids;

  const setView = useCallback((view: JobView) => setViews((v) => ({ ...v, [view.id]: view })), []);

  const removeJob = useCallback((id: string) => {
    setIds((prev) => {
      const next = prev.filter((x) => x !== id);
      saveJobIds(next);
      return next;
    });
    socketRef.current?.emit('job:unwatch', { jobId: id });
  }, []);

  const watch = useCallback(
    (socket: LiveSocket, jobId: string) => {
      socket
        .timeout(WATCH_TIMEOUT_MS)
        .emitWithAck('job:watch', { jobId })
        .then((res) => {
          if (res.ok) setView(res.data);
          else if (res.code === 'not_found') removeJob(jobId);
        })
        .catch(() => {
          // ack timeout: the next reconnect watches again
        });
    },
    [setView, removeJob],
  );

  useEffect(() => {
    const socket = createLiveSocket();
    socketRef.current = socket;
    socket.on('connect', () => {
      setConnected(true);
      for (const id of idsRef.current) watch(socket, id);
    });
    socket.on('disconnect', () => setConnected(false));
    socket.on('job:update', (view) => {
      if (idsRef.current.includes(view.id)) setView(view);
    });
    socket.connect();
    return () => {
      socket.removeAllListeners();
      socket.disconnect();
      socketRef.current = null;
    };
  }, [watch, setView]);

  const addJob = useCallback(
    (created: JobCreated) => {
      setViews((v) => ({ ...v, [created.id]: v[created.id] ?? placeholderView(created) }));
      setIds((prev) => {
        const next = [created.id, ...prev.filter((x) => x !== created.id)];
        saveJobIds(next);
        return next;
      });
      const socket = socketRef.current;
      if (socket?.connected) watch(socket, created.id);
    },
    [watch],
  );

  return { ids, views, connected, addJob, removeJob };
}
