import type { FastifyBaseLogger } from 'fastify';
import type { ModelInfo } from '@tabgrid/protocol';
import { systemClock, type Clock } from '../clock';
import type { ServerConfig } from '../config';
import type { CreditKeeper } from '../ledger/credit-keeper';
import type { LiveStatsTracker } from '../live/live-stats';
import { openAckTrace } from '../observability/ack-trace';
import type { ErrorSink } from '../observability/error-sink';
import type { DispatchGate } from '../observability/health';
import type { BlobStore } from '../storage/blob-store';
import { ImageCache } from '../storage/image-cache';
import { CanaryRoom, type CanaryDesk } from '../verification/canaries';
import { ResultDesk } from '../verification/result-desk';
import type { VerificationMetrics } from '../verification/verification-metrics';
import type { Verifier } from '../verification/verifier';
import { Dispatcher, QueueSource } from './dispatcher';
import { GuardedWrites } from './guarded-writes';
import { LeaseKeeper } from './lease-keeper';
import { Outbox } from './outbox';
import type { LeaseActions, LeaseBook, OfferSource } from './ports';
import { Sessions } from './sessions';
import { StoreLeaseBook } from './store-book';
import type { TaskStore } from '../store/task-store';
import type { EdgeMemory } from '../edges/edge-memory';

/** How the scheduler reports failures, whether it may dispatch, and what time it is. */
export interface SchedulerRuntime {
  errors: ErrorSink;
  /** The circuit breaker: no dispatch while the database is down. */
  gate: DispatchGate;
  /** @defaultValue the system clock */
  clock?: Clock;
  /** Result verification (apps/server/src/verification); without it every result is final. */
  verifier?: Verifier;
  /** A result waiting for its replica this long (ms) goes to the referee. */
  refereeAfterMs?: number;
  /** The credit ledger (apps/server/src/ledger); without it no credit is kept. */
  credits?: CreditKeeper;
  /** Counts stalls (rule V11) on /metrics. */
  metrics?: VerificationMetrics;
  /** Known-answer tasks (rule V12); without it quarantined volunteers get ordinary tasks. */
  canaries?: CanaryDesk;
  /** The edge memory: on Redis, the networks that lost each task are shared by every gateway (T13). */
  edges?: EdgeMemory;
  /** Told of each stall and the volunteer's halvings now in force (rule V11: its network's memory). */
  stalled?: (volunteerId: string, halvings: number) => void;
}

export type SchedulerConfig = Pick<
  ServerConfig,
  'ackTimeoutMs' | 'leaseMs' | 'maxInFlight' | 'maxInFlightCap' | 'leaseCheckMs' | 'deadlineCheckMs'
> &
  Partial<
    Pick<
      ServerConfig,
      | 'maxTasksPerIp'
      | 'maxAssignmentMs'
      | 'maxDeclinePercent'
      | 'distinctNetworks'
      | 'refereeAfterLosses'
      | 'taskDeadlineMs'
      | 'ackTraceFile'
    >
  >;

/** The scheduling core's rooms, wired to each other and to the facade's `LeaseActions`. */
export interface Rooms {
  clock: Clock;
  sessions: Sessions;
  writes: GuardedWrites;
  desk: ResultDesk;
  keeper: LeaseKeeper;
  dispatcher: Dispatcher;
  books: LeaseBook[];
}

/**
 * Builds the rooms: the canaries (with verification and a canary desk) come first as an offer
 * source and a book of leases, the store's queue and leases last.
 */
export function openRooms(
  actions: LeaseActions,
  core: {
    store: TaskStore;
    blobs: BlobStore;
    config: SchedulerConfig;
    model: ModelInfo;
    stats: LiveStatsTracker;
    log: FastifyBaseLogger;
    runtime: SchedulerRuntime;
    /** Whether the facade was stopped. */
    stopped: () => boolean;
  },
): Rooms {
  const { store, blobs, config, model, stats, log, runtime } = core;
  const clock = runtime.clock ?? systemClock;
  const { errors } = runtime;
  const images = new ImageCache(blobs);
  const image = (sha256: string) => images.get(sha256);
  const labels = new Set(model.labels);
  const sessions = new Sessions(config.maxInFlightCap, config.maxTasksPerIp ?? 0);
  const writes = new GuardedWrites(errors, runtime.gate, log);
  const fault = writes.fault.bind(writes);
  const desk = new ResultDesk({
    store,
    actions,
    image,
    clock,
    errors,
    fault,
    log,
    verifier: runtime.verifier,
    credits: runtime.credits,
    refereeAfterMs: runtime.refereeAfterMs,
    losses: {
      distinctNetworks: config.distinctNetworks ?? true,
      refereeAfter: config.refereeAfterLosses ?? 3,
      ...(runtime.edges ? { memory: runtime.edges } : {}),
      ...(config.taskDeadlineMs ? { rememberMs: config.taskDeadlineMs } : {}),
    },
  });
  const storeBook = new StoreLeaseBook({
    ...{ store, sessions, writes, actions, desk },
    ...{ clock, stats, leaseMs: config.leaseMs, labels, log },
  });
  const room =
    runtime.canaries && runtime.verifier
      ? new CanaryRoom(
          runtime.canaries,
          desk,
          actions,
          {
            leaseMs: config.leaseMs,
            maxAssignmentMs: config.maxAssignmentMs,
            labels,
            metrics: runtime.metrics,
          },
          log,
        )
      : null;
  const books: LeaseBook[] = room ? [room, storeBook] : [storeBook];
  const queue = new QueueSource({
    ...{ store, book: storeBook, writes, clock, errors, stats, log, image },
    observers: room ? [(task, bytes, now, volunteerId) => room.observe(task, bytes, now, volunteerId)] : [],
    taskChanged: (t) => actions.taskChanged(t),
    declined: (id) => actions.declined(id),
    keepsFrom: (taskId, s) => desk.keepsFrom(taskId, s.id, s.address),
    pairing: desk.verifying
      ? {
          needed: (taskId, assignmentId, volunteerId) => desk.planOffer(taskId, assignmentId, volunteerId),
          fits: (first, second) =>
            desk.mayPair(first, second) && desk.mayTakeMore(second.id, second.held.size),
          planned: (assignmentId) => desk.planReplica(assignmentId),
          sessions,
        }
      : undefined,
    ackTimeoutMs: config.ackTimeoutMs,
    leaseMs: config.leaseMs,
  });
  const sources: OfferSource[] = room ? [room, queue] : [queue];
  const dispatcher = new Dispatcher({
    sessions,
    sources,
    outbox: new Outbox(
      config.ackTimeoutMs,
      (id) => stats.sink.offering(id),
      () => clock.now(),
      openAckTrace(config.ackTraceFile),
    ),
    clock,
    errors,
    allowed: () => !core.stopped() && runtime.gate.dispatchAllowed(),
    hasWork: () => store.queuedCount > 0,
    mayTakeMore: (id, held) => desk.mayTakeMore(id, held),
  });
  const keeper = new LeaseKeeper({
    ...{ books, store, sessions, writes, actions },
    ...{ clock, errors, stats, log, leaseCheckMs: config.leaseCheckMs },
    maxInFlightCap: config.maxInFlightCap,
    maxDeclinePercent: config.maxDeclinePercent,
    metrics: runtime.metrics,
    failed: (taskId) => desk.forget(taskId),
    ...(runtime.stalled ? { stalled: runtime.stalled } : {}),
  });
  return { clock, sessions, writes, desk, keeper, dispatcher, books };
}
