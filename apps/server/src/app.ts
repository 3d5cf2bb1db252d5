import fastifyMultipart from '@fastify/multipart';
import { LIMITS, NAMESPACES } from '@tabgrid/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { Server } from 'socket.io';
import type { ServerConfig } from './config';
import { registerJobRoutes } from './http/jobs-routes';
import { installErrorHandler } from './http/errors';
import { installIsolationHeaders, registerStaticRoutes } from './http/static-routes';
import { IdentityStore } from './identity/identity-store';
import { compileTrust } from './identity/network';
import { LiveStatsTracker } from './live/live-stats';
import { readModelInfo } from './model-info';
import { ServerMetrics } from './observability/metrics';
import { Scheduler } from './scheduling/scheduler';
import { SchedulerStore } from './scheduling/store';
import { LiveHub, type LiveNamespace } from './sockets/live-namespace';
import { attachVolunteerNamespace, type VolunteerNamespace } from './sockets/volunteer-namespace';
import { BlobStore } from './storage/blob-store';
import { openDatabase } from './storage/database';

/** A running Tabgrid server. */
export interface Tabgrid {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  port: number;
  app: FastifyInstance;
  io: Server;
  store: SchedulerStore;
  scheduler: Scheduler;
  /** How the start-up recovery went: leases treated as lapsed, tasks queued. */
  recovered: { lapsed: number; queued: number };
  /** Graceful shutdown: stop accepting, hand back leases, close sockets and the database. */
  close(): Promise<void>;
}

/**
 * Starts one server process: HTTP API, built web app, Socket.IO, scheduler,
 * on SQLite in `config.dataDir`. Pass `port: 0` to pick a free port (tests).
 *
 * @example const tg = await startServer({ ...DEFAULT_CONFIG, port: 0, dataDir: tmp }); await tg.close();
 */
export async function startServer(config: ServerConfig): Promise<Tabgrid> {
  const model = readModelInfo(config.modelDir);
  const db = openDatabase(config.dataDir);
  const store = new SchedulerStore(db, config);
  const identities = new IdentityStore(db);
  const recovered = store.recover(Date.now());
  const blobs = new BlobStore(config.dataDir);
  const metrics = new ServerMetrics();
  const stats = new LiveStatsTracker(metrics.sink);
  let shuttingDown = false;
  const isShuttingDown = () => shuttingDown;

  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: 1024 * 1024,
  });
  installIsolationHeaders(app);
  installErrorHandler(app);
  await app.register(fastifyMultipart, {
    limits: {
      fileSize: config.maxFileBytes,
      files: config.maxFiles,
      fields: 20,
      parts: config.maxFiles + 20,
      fieldSize: 64 * 1024,
    },
  });

  const io = new Server(app.server, {
    serveClient: false,
    maxHttpBufferSize: LIMITS.maxSocketPayloadBytes,
    // Socket.IO's defaults. Dead volunteers are found by their leases (and unacked offers),
    // so a short ping timeout buys little, and under load it disconnects live peers whose
    // pongs are waiting unread behind a busy event loop.
    pingInterval: 25_000,
    pingTimeout: 20_000,
    // Experiment only (bench/experiments/parser.ts): the product's clients speak the default parser.
    ...(config.socketParser === 'msgpack' ? { parser: await import('socket.io-msgpack-parser') } : {}),
  });
  const liveNsp: LiveNamespace = io.of(NAMESPACES.live);
  const volunteerNsp: VolunteerNamespace = io.of(NAMESPACES.volunteer);
  // The hub needs the scheduler's volunteer count and the scheduler needs the hub's events.
  const hub: LiveHub = new LiveHub(
    liveNsp,
    store,
    stats,
    () => sched.volunteersOnline,
    config.socketEventsPerSecond,
    app.log.child({ ns: 'live' }),
    (volunteerId) => identities.displayName(volunteerId),
  );
  const sched: Scheduler = new Scheduler(
    store,
    blobs,
    config,
    model,
    stats,
    hub,
    app.log.child({ ns: 'scheduler' }),
  );
  attachVolunteerNamespace(
    volunteerNsp,
    sched,
    {
      eventsPerSecond: config.socketEventsPerSecond,
      isShuttingDown,
      identities,
      maxVolunteersPerIp: config.maxVolunteersPerIp,
      trustProxy: compileTrust(config.trustProxy),
    },
    app.log.child({ ns: 'volunteer' }),
  );

  metrics.bindGauges({ volunteersOnline: () => sched.volunteersOnline, queueDepth: () => store.queuedCount });
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.render()),
  );
  app.get('/healthz', async () => ({ status: 'ok', volunteersOnline: sched.volunteersOnline }));
  registerJobRoutes(app, { config, store, blobs, onJobCreated: () => sched.pump(), isShuttingDown });
  await registerStaticRoutes(app, config.staticDir, config.modelDir);

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  sched.start();
  hub.start();
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
    recovered,
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        sched.stop();
        hub.stop();
        stats.stop();
        // io.close() disconnects every client and closes the HTTP server; app.close() then
        // runs Fastify's onClose hooks.
        await new Promise<void>((resolve) => io.close(() => resolve()));
        await app.close();
        db.close();
      })();
      return closing;
    },
  };
}
