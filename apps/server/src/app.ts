import path from 'node:path';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import { LIMITS, NAMESPACES, TabgridError } from '@tabgrid/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { Server } from 'socket.io';
import { systemClock, type Clock } from './clock';
import { ensureFirstKey } from './access/bootstrap';
import { ImageSigner } from './access/image-signer';
import { KeyStore } from './access/key-store';
import { checkMetricsAccess } from './access/metrics-guard';
import { OriginPolicy } from './access/origin-check';
import { installRequesterAuth } from './access/requester-auth';
import { SignInThrottle } from './access/sign-in-throttle';
import type { ServerConfig } from './config';
import { registerApiDocs } from './http/docs-routes';
import { registerHealthRoute } from './http/health-routes';
import { registerImageRoutes } from './http/image-routes';
import { registerJobRoutes } from './http/jobs-routes';
import { frameworkErrorHandler, installErrorHandler } from './http/errors';
import { registerExportRoutes } from './http/export-routes';
import { registerRequesterRoutes } from './http/requester-routes';
import { installSecurityHeaders } from './http/security-headers';
import { installUpgradeRefusals } from './http/upgrade-refusals';
import { registerStaticRoutes } from './http/static-routes';
import { IdentityGate } from './identity/identity-gate';
import { IdentityStore } from './identity/identity-store';
import { compileTrust } from './identity/network';
import { watchReputations } from './identity/reputation-watch';
import { openFanout } from './fanout';
import { cancelJob } from './jobs/job-cancel';
import { requesterJobView } from './jobs/job-view';
import { deleteJob } from './jobs/job-deletion';
import { LiveStatsTracker } from './live/live-stats';
import { MODEL_FILE, readModelInfo } from './model-info';
import { ErrorSink } from './observability/error-sink';
import { HealthMonitor } from './observability/health';
import { ServerMetrics } from './observability/metrics';
import { Scheduler } from './scheduling/scheduler';
import type { SchedulingStore } from './store/scheduling-store';
import { newId } from './store/ids';
import { Referee } from './verification/referee';
import { DEFAULT_REFEREE_RETRY } from './verification/referee-retry';
import { CanaryDesk, canaryRefreshMs, DEFAULT_CANARIES } from './verification/canaries';
import { VerificationMetrics } from './verification/verification-metrics';
import { Verifier } from './verification/verifier';
import { networkOf } from './verification/network';
import { NEW_REPUTATION } from './verification/reputation';
import { CreditKeeper, creditPolicyFor } from './ledger';
import { LiveHub, type LiveNamespace } from './sockets/live-namespace';
import {
  attachVolunteerNamespace,
  volunteerRoom,
  type VolunteerNamespace,
} from './sockets/volunteer-namespace';
import { openBackend, type BackendKind } from './storage/backend';
import type { BlobWriter } from './storage/blob-store';
import { diskProbe } from './storage/probes';
import { uploadStorage } from './storage/upload-storage';
import { openWebhooks, type Webhooks } from './webhooks';

/** A running Tabgrid server. */
export interface Tabgrid {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  port: number;
  app: FastifyInstance;
  io: Server;
  store: SchedulingStore;
  scheduler: Scheduler;
  /** The credit ledger's keeper (apps/server/src/ledger). */
  credits: CreditKeeper;
  /** Webhook events of jobs with a `callbackUrl` (apps/server/src/webhooks). */
  webhooks: Webhooks;
  /** Background failures: logged and counted (`tabgrid_background_errors_total`). */
  errors: ErrorSink;
  /** Dependency probes behind /healthz and the scheduler's circuit breaker. */
  health: HealthMonitor;
  keys: KeyStore;
  /** Where state lives (`sqlite`, or `redis` with `TABGRID_REDIS_URL`). */
  backend: BackendKind;
  /** This process's name among gateways (`TABGRID_GATEWAY_ID`, else random per start). */
  gatewayId: string;
  /**
   * Set on the very first start (no key in the environment or the store): the key created for
   * the owner, to print once as a sign-in link. Null otherwise.
   */
  firstKey: string | null;
  /** How the start-up recovery went: leases treated as lapsed, tasks queued. */
  recovered: { lapsed: number; queued: number; ledgerEntries?: number };
  /** Graceful shutdown: stop accepting, hand back leases, close sockets and the database. */
  close(): Promise<void>;
}

/** Test seams: replace a dependency's behaviour without changing the product's code paths. */
export interface ServerSeams {
  /** Wraps the store every component uses (e.g. a wrapper that throws on demand). */
  wrapStore?: (store: SchedulingStore) => SchedulingStore;
  /** Writes new blobs' bytes (e.g. one that fails with ENOSPC half-way). */
  blobWriter?: BlobWriter;
  /** The scheduler's clock (lease expiry, deadlines, timestamps). @defaultValue the system clock */
  clock?: Clock;
  /** Verification's spot-check dice, in [0, 1). @defaultValue Math.random */
  random?: () => number;
  /** The referee's model file (e.g. a missing one: every referee run fails). @defaultValue the served model */
  refereeModel?: string;
}

/**
 * Starts one server process: HTTP API, built web app, Socket.IO, scheduler, on the backend
 * `config` picks (storage/backend.ts: SQLite in `config.dataDir`, or Redis with
 * `config.redisUrl`). Pass `port: 0` to pick a free port (tests).
 *
 * @example const tg = await startServer({ ...DEFAULT_CONFIG, port: 0, dataDir: tmp }); await tg.close();
 */
export async function startServer(config: ServerConfig, seams: ServerSeams = {}): Promise<Tabgrid> {
  const clock = seams.clock ?? systemClock;
  const model = readModelInfo(config.modelDir);
  // Bound once the logger exists: failures of background store writes, start-up warnings.
  let errorSink: ErrorSink | null = null;
  const early: string[] = [];
  // Redis mode claims tasks for the volunteers connected here (bound once the scheduler exists).
  let demand = () => 0;
  const backend = await openBackend(config, {
    blobWriter: seams.blobWriter,
    report: (where, err) => errorSink?.report(where, err),
    warn: (message) => early.push(message),
    demand: () => demand(),
    now: clock.now(),
  });
  const { recovered } = backend;
  // Free space is watched where the image bytes go (a shared blob directory in Redis mode).
  const blobVolume = config.blobDir ?? config.dataDir;
  const store = seams.wrapStore ? seams.wrapStore(backend.scheduling) : backend.scheduling;
  const { blobs, jobAccess, reputations } = backend;
  // Rule I8: identities without verified work expire (only verification records verified work).
  const identities = new IdentityStore(
    backend.identities,
    config.verification
      ? {
          ttlMs: config.identityTtlMs,
          hasVerifiedWork: async (volunteerId) => {
            await reputations.warm(volunteerId);
            return reputations.get(volunteerId).verified > 0;
          },
        }
      : undefined,
  );
  // Rules I9, I10: what a new identity costs, per network (the address itself without /24s).
  const identityGate = new IdentityGate(
    {
      perHour: config.newIdentitiesPerHour,
      maxPending: config.maxPendingIdentities,
      lifetimeMs: config.identityTtlMs,
      networkOf: config.distinctNetworks ? networkOf : (address) => address,
    },
    backend.edges,
  );
  const keys = new KeyStore(backend.keys, config.apiKeys);
  let firstKey: string | null;
  try {
    firstKey = await ensureFirstKey(keys, store);
  } catch (err) {
    await backend.close();
    throw err;
  }
  const signer = new ImageSigner(backend.secret);
  const origins = new OriginPolicy(config.allowedOrigins);
  const metrics = new ServerMetrics();
  const stats = new LiveStatsTracker(metrics.sink);
  const verificationMetrics = new VerificationMetrics(metrics.registry);
  const referee =
    config.verification && config.refereeWorkers > 0
      ? new Referee(
          seams.refereeModel ?? path.join(config.modelDir, MODEL_FILE),
          model.labels,
          {
            workers: config.refereeWorkers,
            perSecond: config.refereeBudget,
          },
          verificationMetrics,
        )
      : null;
  const verifier = config.verification
    ? new Verifier(
        reputations,
        referee,
        {
          distinctNetworks: config.distinctNetworks,
          trust: {
            trustStreak: config.trustStreak,
            spotCheckFloor: config.spotCheckPercent / 100,
            rampChecks: config.trustRampChecks,
            rampFraction: config.trustRampPercent / 100,
          },
          retry: {
            ...DEFAULT_REFEREE_RETRY,
            baseMs: config.refereeAfterMs,
            maxFailures: config.refereeMaxFailures,
          },
          metrics: verificationMetrics,
        },
        seams.random,
      )
    : undefined;
  const canaries =
    verifier && referee
      ? new CanaryDesk(
          referee,
          {
            ...DEFAULT_CANARIES,
            rate: config.canaryPercent / 100,
            refreshMs: canaryRefreshMs(config.refereeBudget),
          },
          { task: () => newId('task'), assignment: () => newId('asg') },
          verificationMetrics,
        )
      : undefined;
  let shuttingDown = false;
  const isShuttingDown = () => shuttingDown;

  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: 1024 * 1024,
    // Refused before routing (malformed URL, …): the documented body too (rule H2).
    frameworkErrors: frameworkErrorHandler,
  });
  const errors = new ErrorSink(metrics.registry, app.log.child({ ns: 'errors' }));
  errorSink = errors;
  watchReputations(reputations, {
    firstVerified: (volunteerId) =>
      void identities.kept(volunteerId).catch((err: unknown) => errors.report('identity.keep', err)),
    quarantined: (volunteerId) =>
      void identityGate
        .quarantined(volunteerId, clock.now())
        .catch((err: unknown) => errors.report('identity.quarantine', err)),
  });
  const signIns = new SignInThrottle(backend.edges, config.signInFailuresPerMinute);
  app.log.info({ backend: backend.kind, gatewayId: backend.gatewayId }, 'storage backend');
  for (const message of early) app.log.warn(message);
  const health = new HealthMonitor(
    [...backend.probes, diskProbe(blobVolume, config.minFreeBytes)],
    config.healthCheckMs,
    metrics.registry,
    app.log.child({ ns: 'health' }),
  );
  installErrorHandler(app);
  installRequesterAuth(app, keys, origins, signIns);
  await registerApiDocs(app);
  await app.register(fastifyRateLimit, {
    global: false,
    hook: 'preHandler',
    errorResponseBuilder: (_request, context) =>
      new TabgridError(
        'rate_limited',
        `at most ${context.max} uploads per minute per key; retry in ${context.after}`,
        429,
      ),
  });
  await app.register(fastifyMultipart, {
    limits: {
      fileSize: config.maxFileBytes,
      files: config.maxFiles,
      fields: 20,
      parts: config.maxFiles + 20,
      fieldSize: 64 * 1024,
    },
  });

  // Broadcasts and live figures across gateways when they share a Redis (ARCHITECTURE.md "Fan-out").
  const fanout = await openFanout(config.redisUrl, backend.gatewayId, (err) =>
    errors.report('live.cluster', err),
  );
  const io = new Server(app.server, {
    ...(fanout.adapter ? { adapter: fanout.adapter } : {}),
    serveClient: false,
    maxHttpBufferSize: LIMITS.maxSocketPayloadBytes,
    // Cross-site WebSocket hijacking: a browser page from another origin may not connect.
    allowRequest: (req, callback) => callback(null, origins.allows(req.headers.origin, req.headers.host)),
    // Socket.IO's defaults. Dead volunteers are found by their leases (and unacked offers),
    // so a short ping timeout buys little, and under load it disconnects live peers whose
    // pongs are waiting unread behind a busy event loop.
    pingInterval: 25_000,
    pingTimeout: 20_000,
  });
  // After Socket.IO took over the server's request listeners: headers on every answer (rule H1).
  installSecurityHeaders(app.server);
  installUpgradeRefusals(app.server);
  const liveNsp: LiveNamespace = io.of(NAMESPACES.live);
  const volunteerNsp: VolunteerNamespace = io.of(NAMESPACES.volunteer);
  // The credit ledger (apps/server/src/ledger), on the backend's store.
  const creditPolicy = creditPolicyFor(config.maxAssignmentMs);
  const credits = new CreditKeeper(backend.ledger, {
    errors,
    policy: creditPolicy,
    now: () => clock.now(),
    displayName: (volunteerId) => identities.displayName(volunteerId),
    notify: (volunteerId, c) => volunteerNsp.to(volunteerRoom(volunteerId)).emit('volunteer:credits', c),
  });
  // The hub needs the scheduler's volunteer count and the scheduler needs the hub's events.
  const hub: LiveHub = new LiveHub(
    liveNsp,
    store,
    stats,
    () => sched.volunteerCounts(),
    { keys, jobs: jobAccess, signer },
    config.socketEventsPerSecond,
    app.log.child({ ns: 'live' }),
    errors,
    (volunteerId) => identities.displayName(volunteerId),
    () => credits.leaderboard(),
    fanout,
    { maxPerAddress: config.maxLivePerIp, trustProxy: compileTrust(config.trustProxy), throttle: signIns },
  );
  // webhooks hook: job ends become signed events (apps/server/src/webhooks); the scheduler's task
  // changes reach the webhook room beside the live hub.
  const webhooks = await openWebhooks(config, {
    queue: backend.webhooks,
    jobView: (jobId) => requesterJobView({ store, access: jobAccess }, jobId),
    jobGone: async (jobId) => {
      const row = await jobAccess.get(jobId);
      return row === null || row.deletedAt !== null;
    },
    errors,
    registry: metrics.registry,
    log: app.log.child({ ns: 'webhooks' }),
    now: () => clock.now(),
  });
  const sched: Scheduler = new Scheduler(
    store,
    blobs,
    config,
    model,
    stats,
    {
      resultStored: (task, assignment) => hub.resultStored(task, assignment),
      taskChanged: (task) => {
        hub.taskChanged(task);
        webhooks.taskChanged(task);
      },
    },
    app.log.child({ ns: 'scheduler' }),
    {
      errors,
      gate: health,
      clock,
      verifier,
      refereeAfterMs: config.refereeAfterMs,
      metrics: verificationMetrics,
      canaries,
      credits,
      edges: backend.edges,
      // Rule V11: a network's stalls are held against its new identities (issue 17 E).
      stalled: (volunteerId, halvings) =>
        void identityGate
          .stalled(volunteerId, halvings, clock.now())
          .catch((err: unknown) => errors.report('identity.stall', err)),
    },
  );
  // The store answered its probe again: leases are extended by the outage, dispatch resumes.
  health.onRecovered((name, downMs) => {
    if (name === backend.storeProbe) sched.resume(downMs);
  });
  // Tasks claimed from the shared store (Redis mode) are dispatched as they arrive.
  backend.onWorkAvailable(() => sched.pump());
  // A job cancelled on another gateway: its volunteers here are told at once.
  backend.onJobCancelledElsewhere((ended) => sched.endCancelled(ended));
  // Up to every local volunteer's largest in-flight window, twice over; none without volunteers
  // (a gateway nobody is connected to leaves the tasks to the others).
  demand = () => 2 * config.maxInFlightCap * sched.volunteersOnline;
  attachVolunteerNamespace(
    volunteerNsp,
    sched,
    {
      eventsPerSecond: config.socketEventsPerSecond,
      isShuttingDown,
      errors,
      identities,
      reputations,
      maxVolunteersPerIp: config.maxVolunteersPerIp,
      trustProxy: compileTrust(config.trustProxy),
      onJoined: (volunteerId) => credits.sendTo(volunteerId),
      gate: identityGate,
      // Rule I10: a new identity from a network whose identity was quarantined starts on a
      // probation twice as long (its streak starts at minus the trust streak).
      // Rule V11: it also starts with the stall halvings its network's identities had.
      onIssued: async (volunteerId, address, now) => {
        const [stricter, stalls] = await Promise.all([
          verifier ? identityGate.startsStricter(address, now) : false,
          identityGate.stallsOf(address, now),
        ]);
        if (stricter) reputations.put(volunteerId, { ...NEW_REPUTATION, streak: -config.trustStreak });
        if (stalls > 0) sched.inheritStalls(volunteerId, stalls);
      },
    },
    app.log.child({ ns: 'volunteer' }),
  );

  metrics.bindGauges({ volunteersOnline: () => sched.volunteersOnline, queueDepth: () => store.queuedCount });
  verificationMetrics.bindQueue({ running: () => referee?.queued ?? 0, waiting: () => sched.refereeWaiting });
  app.get('/metrics', async (request, reply) => {
    await checkMetricsAccess(request.headers.authorization, config.metricsToken, keys);
    return reply.type(metrics.contentType).send(await metrics.render());
  });
  registerHealthRoute(app, health, () => sched.volunteersOnline);
  const uploads = uploadStorage({
    dataDir: blobVolume,
    minFreeBytes: config.minFreeBytes,
    blobs,
    store,
    storeProbe: backend.storeProbe,
    health,
    errors,
    clock,
  });
  registerJobRoutes(app, {
    config,
    store,
    access: jobAccess,
    uploads,
    onJobCreated: () => sched.pump(),
    isShuttingDown,
    webhooks, // webhooks hook: the callbackUrl field
  });
  registerImageRoutes(app, { store, access: jobAccess, blobs, signer });
  registerExportRoutes(app, { store, access: jobAccess, now: () => clock.now() });
  registerRequesterRoutes(app, {
    access: jobAccess,
    deleteJob: (jobId) => deleteJob({ store, cancel: (id) => sched.cancelJob(id), blobs }, jobId, Date.now()),
    cancelJob: (jobId) =>
      cancelJob({ access: jobAccess, store, cancel: (id) => sched.cancelJob(id) }, jobId, Date.now()),
    limits: { maxFiles: config.maxFiles, maxFileBytes: config.maxFileBytes },
  });
  await registerStaticRoutes(app, config.staticDir, {
    dir: config.modelDir,
    file: MODEL_FILE,
    sha256: model.sha256,
  });

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  health.start();
  sched.start();
  // Rule I8: identities past their lifetime without verified work are deleted (SQLite; Redis
  // expires them itself), at start and hourly.
  const sweepIdentities = () =>
    void identities.sweep(clock.now()).catch((err: unknown) => errors.report('identity.sweep', err));
  sweepIdentities();
  const identitySweep = setInterval(sweepIdentities, 3_600_000);
  identitySweep.unref();
  hub.start();
  webhooks.start(); // webhooks hook
  sched.pump();
  app.log.info({ port, ...recovered, modelSha256: model.sha256 }, 'tabgrid server ready');

  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    app,
    io,
    store,
    scheduler: sched,
    credits,
    webhooks,
    errors,
    health,
    keys,
    backend: backend.kind,
    gatewayId: backend.gatewayId,
    firstKey,
    recovered,
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        health.stop();
        clearInterval(identitySweep);
        sched.stop();
        hub.stop();
        await webhooks.close(); // webhooks hook: attempts in flight end (bounded by their timeout)
        stats.stop();
        // io.close() disconnects every client and closes the HTTP server; app.close() then
        // runs Fastify's onClose hooks.
        await new Promise<void>((resolve) => io.close(() => resolve()));
        await app.close();
        await credits.idle();
        await fanout.close();
        await referee?.close();
        await reputations.flush().catch((err: unknown) => errors.report('shutdown.reputation', err));
        await backend.close();
      })();
      return closing;
    },
  };
}
