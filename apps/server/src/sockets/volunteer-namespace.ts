import {
  HeartbeatSchema,
  PROTOCOL_VERSION,
  TaskErrorSchema,
  TaskResultSchema,
  VOLUNTEER_CLIENT_EVENTS,
  VolunteerAuthSchema,
  VolunteerStateSchema,
  ok,
  type VolunteerClientToServer,
  type VolunteerServerToClient,
} from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Namespace } from 'socket.io';
import type { ErrorSink } from '../observability/error-sink';
import type { Scheduler } from '../scheduling/scheduler';
import { SocketGuard, describeIssues, handshakeError } from './guard';

export type VolunteerNamespace = Namespace<VolunteerClientToServer, VolunteerServerToClient>;

/**
 * `/volunteer`: the handshake checks the protocol version and the volunteer's
 * identity; every event is validated before it reaches the scheduler.
 */
export function attachVolunteerNamespace(
  nsp: VolunteerNamespace,
  scheduler: Scheduler,
  options: { eventsPerSecond: number; isShuttingDown: () => boolean; errors?: ErrorSink },
  baseLog: FastifyBaseLogger,
): void {
  nsp.use((socket, next) => {
    if (options.isShuttingDown()) return next(handshakeError('shutting_down', 'server is shutting down'));
    const auth = VolunteerAuthSchema.safeParse(socket.handshake.auth);
    if (!auth.success) return next(handshakeError('invalid_payload', describeIssues(auth.error)));
    if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
      return next(
        handshakeError(
          'protocol_version',
          `server speaks protocol ${PROTOCOL_VERSION}, client ${auth.data.protocolVersion}: reload the page or update the agent`,
        ),
      );
    }
    socket.data.volunteerId = auth.data.volunteerId;
    socket.data.kind = auth.data.kind;
    socket.data.runtime = auth.data.runtime;
    socket.data.slots = auth.data.slots ?? 1;
    next();
  });

  nsp.on('connection', (socket) => {
    const log = baseLog.child({ volunteerId: socket.data.volunteerId });
    log.info(
      { kind: socket.data.kind, runtime: socket.data.runtime, slots: socket.data.slots },
      'volunteer connected',
    );
    const session = scheduler.connect(socket.data.volunteerId, socket, socket.data.slots);
    socket.conn.on('packet', () => scheduler.alive(session));
    const guard = new SocketGuard(
      socket,
      VOLUNTEER_CLIENT_EVENTS,
      options.eventsPerSecond,
      log,
      options.errors,
    );
    guard.on('task:heartbeat', HeartbeatSchema, (p) => ok(scheduler.heartbeat(session, p.assignmentIds)));
    guard.on('task:result', TaskResultSchema, (p) => scheduler.result(session, p));
    guard.on('task:error', TaskErrorSchema, (p) => scheduler.taskError(session, p));
    guard.on('volunteer:state', VolunteerStateSchema, (p) => {
      scheduler.setAccepting(session, p.accepting);
      return ok({ accepting: p.accepting });
    });
    socket.on('disconnect', (reason) => {
      log.info({ reason }, 'volunteer disconnected');
      scheduler.disconnect(socket);
    });
  });
}
