import { TabgridError, fail, type Ack, type AckCallback, type ErrorCode } from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { ErrorSink } from '../observability/error-sink';
import type { Socket } from 'socket.io';
import type { z } from 'zod';

/** Token bucket: `ratePerSecond` sustained, bursts of twice that. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  dropped = 0;

  constructor(private readonly ratePerSecond: number) {
    this.tokens = ratePerSecond * 2;
  }

  take(now = Date.now()): boolean {
    this.tokens = Math.min(
      this.ratePerSecond * 2,
      this.tokens + ((now - this.last) / 1000) * this.ratePerSecond,
    );
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.dropped++;
    return false;
  }
}

/** An Error that Socket.IO middleware passes to the client as `connect_error` with `err.data`. */
export function handshakeError(code: ErrorCode, message: string): Error {
  return Object.assign(new Error(message), { data: { code, message } });
}

/** Short, safe description of a schema failure (never raw input). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
}

/** Any map of events (the protocol's `VolunteerClientToServer`, `LiveClientToServer`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventMap = { [event: string]: (...args: any[]) => void };
/** A map of events `E` (an interface: no index signature needed). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventsOf<E> = { [K in keyof E]: (...args: any[]) => void };

/** The payload an event carries. */
export type PayloadOf<F> = F extends (payload: infer P, ...rest: never[]) => void ? P : never;

/** What a handler answers: the event's ack (at once or when its promise settles), or nothing. */
export type AnswerOf<F> = F extends (...args: infer A) => void
  ? A extends [unknown, AckCallback<infer T>]
    ? Ack<T> | Promise<Ack<T>>
    : void | Promise<void>
  : never;

/** One set of event names per event list, shared by every socket guarded with it (memory per connection). */
const namesOf = new WeakMap<readonly string[], ReadonlySet<string>>();
function eventNames(known: readonly string[]): ReadonlySet<string> {
  let names = namesOf.get(known);
  if (!names) namesOf.set(known, (names = new Set(known)));
  return names;
}

/**
 * Wraps every inbound event of one socket: rate limit, schema validation,
 * a typed ack for anything that goes wrong, no stack traces on the wire, and
 * an `unknown_event` answer for names the protocol does not define. A socket
 * that keeps flooding after being rate-limited is disconnected. Typed against the
 * protocol's event map: an event's schema, payload and ack must be the map's.
 */
export class SocketGuard<Events extends EventsOf<Events>> {
  private readonly limiter: RateLimiter;

  constructor(
    private readonly socket: Socket<EventMap, EventMap, EventMap>,
    known: readonly (keyof Events & string)[],
    ratePerSecond: number,
    private readonly log: FastifyBaseLogger,
    /** Where a handler's unexpected error goes (logged and counted); else only logged. */
    private readonly errors?: ErrorSink,
  ) {
    this.limiter = new RateLimiter(ratePerSecond);
    const names = eventNames(known);
    socket.onAny((event: string, ...args: unknown[]) => {
      if (names.has(event)) return;
      this.log.warn({ event: String(event).slice(0, 64) }, 'unknown event rejected');
      const ack = args.at(-1);
      if (typeof ack !== 'function') return void this.allow();
      // Rule P3: an event sent with an ack callback always gets an answer, a refusal included.
      if (!this.allow()) return void ack(fail('rate_limited', 'too many events; slow down'));
      ack(fail('unknown_event', `unknown event "${String(event).slice(0, 64)}"`));
    });
  }

  private allow(): boolean {
    if (this.limiter.take()) return true;
    if (this.limiter.dropped > 1000) {
      this.log.warn('flooding socket disconnected');
      this.socket.disconnect(true);
    }
    return false;
  }

  /**
   * Registers a handler for an event whose payload must match `schema` and that answers with an
   * ack, at once or when its promise settles (a store that answers asynchronously). An event
   * without an ack in the protocol answers nothing: its handler returns nothing.
   */
  on<E extends keyof Events & string>(
    event: E,
    schema: z.ZodType<PayloadOf<Events[E]>>,
    handler: (payload: PayloadOf<Events[E]>) => AnswerOf<Events[E]>,
  ): void {
    const listener = (...args: unknown[]) => {
      // The ack is the last argument, also when no payload came with it (rule P3: it is answered).
      const ack = typeof args.at(-1) === 'function' ? args.pop() : undefined;
      const payload = args[0];
      const reply = typeof ack === 'function' ? (ack as (r: Ack<unknown>) => void) : () => undefined;
      if (!this.allow()) return reply(fail('rate_limited', 'too many events; slow down'));
      const parsed = schema.safeParse(payload);
      if (!parsed.success) {
        this.log.warn({ event, issues: describeIssues(parsed.error) }, 'invalid payload rejected');
        return reply(fail('invalid_payload', describeIssues(parsed.error)));
      }
      const answered = (answer: unknown) => {
        if (answer !== undefined) reply(answer as Ack<unknown>);
      };
      const failed = (err: unknown) => {
        // A typed refusal (e.g. storage_unavailable from the scheduler) goes back as such.
        if (err instanceof TabgridError) return reply(fail(err.code, err.message));
        if (this.errors) this.errors.report(`socket.${event}`, err);
        else this.log.error({ err, event }, 'handler failed');
        reply(fail('internal', 'internal error'));
      };
      try {
        const answer: unknown = handler(parsed.data);
        if (answer instanceof Promise) answer.then(answered, failed);
        else answered(answer);
      } catch (err) {
        failed(err);
      }
    };
    (this.socket as unknown as Socket).on(event as string, listener);
  }
}
