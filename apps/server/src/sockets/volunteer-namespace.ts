import {
  TabgridError,
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
import type { IdentityGate } from '../identity/identity-gate';
import type { Identity, IdentityStore } from '../identity/identity-store';
import type { ReputationStore } from '../verification/reputation-store';
import { PerAddressCounter, clientAddress, type TrustProxy } from '../identity/network';
import type { Scheduler } from '../scheduling/scheduler';
import { SocketGuard, describeIssues, handshakeError } from './guard';

export type VolunteerNamespace = Namespace<VolunteerClientToServer, VolunteerServerToClient>;

export interface VolunteerNamespaceOptions {
  eventsPerSecond: number;
  isShuttingDown: () => boolean;
  identities: IdentityStore;
  /** Loaded for a volunteer before it may get work (a Redis store serves it from memory). */
  reputations?: Pick<ReputationStore, 'warm'>;
  /** Connected volunteers per client address; 0 = no limit (rule I6). */
  maxVolunteersPerIp: number;
  /** Which peers' `X-Forwarded-For` is believed (rule I5). */
  trustProxy: TrustProxy;
  /** Where unexpected handler errors go (counted in /metrics). */
  errors?: ErrorSink;
  /** What a new identity costs (rules I9, I10): per-network quota, table bound. */
  gate?: IdentityGate;
  /**
   * A new identity was issued to a volunteer connecting from `address` (before any work; its
   * connection is accepted once this settled).
   */
  onIssued?: (volunteerId: string, address: string, now: number) => Promise<void>;
  /** A volunteer's connection was accepted and joined its room (the ledger sends its credits). */
  onJoined?: (volunteerId: string) => void;
}

/** The Socket.IO room of one volunteer's connection: server pushes addressed to it (`volunteer:credits`). */
export const volunteerRoom = (volunteerId: string) => `volunteer:${volunteerId}`;

/**
 * `/volunteer`: the handshake checks the protocol version, the volunteer's
 * identity (issuing one to a newcomer, refusing an id without its token) and
 * the per-address limit; every event is validated before it reaches the scheduler.
 */
export function attachVolunteerNamespace(
  nsp: VolunteerNamespace,
  scheduler: Scheduler,
  options: VolunteerNamespaceOptions,
  baseLog: FastifyBaseLogger,
): void {
  const perAddress = new PerAddressCounter();

  nsp.use((socket, next) => {
    handshake(socket, next).catch((err: unknown) => {
      // e.g. the store is unavailable: refuse clearly (clients retry `internal`), never hang.
      baseLog.error({ err }, 'volunteer handshake failed');
      next(handshakeError('internal', 'the server could not check this volunteer; try again'));
    });
  });

  const handshake = async (
    socket: Parameters<Parameters<VolunteerNamespace['use']>[0]>[0],
    next: (err?: Error) => void,
  ) => {
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
    const { volunteerId, token } = auth.data;
    if ((volunteerId === undefined) !== (token === undefined)) {
      return next(
        handshakeError(
          'identity_rejected',
          'send volunteerId with its token to resume an identity, or neither to join as a new volunteer',
        ),
      );
    }
    const now = Date.now();
    // Rule I2: an id is resumed only with its own token. No takeover, whatever the id.
    const resumed = volunteerId && token ? await options.identities.verify(volunteerId, token, now) : null;
    if (volunteerId && !resumed) {
      baseLog.warn({ address: clientAddress(socket.request, options.trustProxy) }, 'identity refused');
      return next(
        handshakeError(
          'identity_rejected',
          'unknown volunteer id or wrong token: an id can only be resumed with the token issued with it',
        ),
      );
    }
    // Rule I6: volunteers per address. A connection replacing this identity's own connection
    // from the same address does not count twice.
    const address = clientAddress(socket.request, options.trustProxy);
    const replacing = resumed !== null && scheduler.addressOf(resumed.volunteerId) === address;
    const max = options.maxVolunteersPerIp;
    if (max > 0 && !replacing && perAddress.count(address) >= max) {
      return next(
        handshakeError(
          'too_many_volunteers',
          `at most ${max} volunteers may be connected from one network address`,
        ),
      );
    }
    // Counted from here until the connection closes (also if it closes before `connection`),
    // and before any await, so concurrent handshakes from one address see each other.
    perAddress.add(address);
    let counted = true;
    const release = () => {
      if (counted) perAddress.remove(address);
      counted = false;
    };
    socket.conn.once('close', release);
    if (socket.conn.readyState === 'closed') release(); // closed while its identity was checked
    let identity: Identity & { token?: string };
    try {
      if (!resumed) await options.gate?.admit(address, now); // rule I9: new identities cost something
      identity = resumed ?? (await options.identities.create(now));
      await options.reputations?.warm(identity.volunteerId);
      options.gate?.seen(identity.volunteerId, address);
      if (!resumed) await options.onIssued?.(identity.volunteerId, address, now);
    } catch (err) {
      release();
      if (err instanceof TabgridError) return next(handshakeError(err.code, err.message));
      throw err;
    }
    socket.data.releaseAddress = release;
    socket.data.volunteerId = identity.volunteerId;
    socket.data.displayName = identity.displayName;
    socket.data.issuedToken = identity.token;
    socket.data.address = address;
    socket.data.kind = auth.data.kind;
    socket.data.runtime = auth.data.runtime;
    socket.data.slots = auth.data.slots ?? 1;
    next();
  };

  nsp.on('connection', (socket) => {
    const log = baseLog.child({ volunteerId: socket.data.volunteerId });
    log.info(
      {
        kind: socket.data.kind,
        runtime: socket.data.runtime,
        slots: socket.data.slots,
        displayName: socket.data.displayName,
        address: socket.data.address,
        issued: socket.data.issuedToken !== undefined,
      },
      'volunteer connected',
    );
    const session = scheduler.connect(socket.data.volunteerId, socket, socket.data.slots, {
      displayName: socket.data.displayName,
      token: socket.data.issuedToken,
      address: socket.data.address,
    });
    socket.data.issuedToken = undefined; // sent once, in hello; never kept
    void socket.join(volunteerRoom(socket.data.volunteerId));
    options.onJoined?.(socket.data.volunteerId);
    socket.conn.on('packet', () => scheduler.alive(session));
    const guard = new SocketGuard<VolunteerClientToServer>(
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
      (socket.data.releaseAddress as () => void)();
      scheduler.disconnect(socket);
    });
  });
}
