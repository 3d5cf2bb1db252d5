import {
  PROTOCOL_VERSION,
  liveHistoryPoint,
  type LiveHistoryPoint,
  type LiveResult,
  type LiveStats,
} from '@tabgrid/protocol';
import { useEffect, useState } from 'react';
import { currentApiKey } from '../../lib/apiKey';
import { connectErrorData } from '@tabgrid/protocol';
import { createLiveSocket } from '../../lib/socket';
import { appendHistory } from './history';

export const MAX_RESULTS = 24;

export interface LiveFeed {
  connected: boolean;
  stats: LiveStats | null;
  /** Newest first, at most MAX_RESULTS. */
  results: LiveResult[];
  /** Chart points over the last 10 minutes, oldest first: the snapshot's history, then every `live:stats`. */
  history: LiveHistoryPoint[];
}

const key = (r: LiveResult) => r.id;

/**
 * `/live` pushes only: snapshot on connect (with the charts' history), then results and ~1/s
 * stats that the charts append. Anonymous viewers get public results; a browser signed in with
 * a key also gets its own jobs' results.
 */
export function useLiveFeed(): LiveFeed {
  const [feed, setFeed] = useState<LiveFeed>({ connected: false, stats: null, results: [], history: [] });

  useEffect(() => {
    const socket = createLiveSocket(currentApiKey());
    socket.on('connect', () => setFeed((f) => ({ ...f, connected: true })));
    socket.on('disconnect', () => setFeed((f) => ({ ...f, connected: false })));
    // A key the server does not know (revoked): watch as an anonymous viewer instead.
    socket.on('connect_error', (err) => {
      if (connectErrorData(err)?.code !== 'unauthorized') return;
      socket.auth = { protocolVersion: PROTOCOL_VERSION };
      socket.connect();
    });
    socket.on('live:snapshot', ({ stats, recent, history }) => {
      const sorted = [...recent].sort((a, b) => b.completedAt - a.completedAt).slice(0, MAX_RESULTS);
      const seeded = appendHistory(history ?? [], liveHistoryPoint(stats));
      setFeed((f) => ({ ...f, stats, results: sorted, history: seeded }));
    });
    socket.on('live:stats', (stats) =>
      setFeed((f) => ({ ...f, stats, history: appendHistory(f.history, liveHistoryPoint(stats)) })),
    );
    socket.on('live:result', (result) =>
      setFeed((f) => ({
        ...f,
        results: [result, ...f.results.filter((r) => key(r) !== key(result))].slice(0, MAX_RESULTS),
      })),
    );
    socket.connect();
    return () => {
      socket.removeAllListeners();
      socket.disconnect();
    };
  }, []);

  return feed;
}
