import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { SECURITY_HEADERS, SOCKET_IO_PATH, socketIoCode } from './security-headers';

/** Longest message kept from engine.io's or ws's refusal text. */
const MAX_MESSAGE = 200;

/**
 * WebSocket upgrade refusals carry the security headers and the documented error body too
 * (PROTOCOL.md H1, H2). engine.io (a bad transport or session, an origin `allowRequest` refused)
 * and ws (no or a bad `Upgrade` or `Sec-WebSocket-Key` header, a wrong version) refuse an upgrade
 * by writing a raw `HTTP/1.1 4xx` answer on the socket, with neither; the socket's first write is
 * rewritten here when it is such a refusal (a `101 Switching Protocols` and everything after it
 * pass untouched). An upgrade outside Socket.IO's path, which engine.io would drop after a second
 * without a word, is answered `404 not_found` at once.
 *
 * Call it after Socket.IO is attached (its upgrade listener must run after this one).
 */
export function installUpgradeRefusals(server: Server): void {
  server.prependListener('upgrade', (req: IncomingMessage, socket: Duplex) => {
    if (req.url?.startsWith(SOCKET_IO_PATH)) return rewriteRefusal(socket);
    socket.on('error', () => undefined); // the client may be gone already
    socket.end(refusal(404, 'no WebSocket endpoint at this path', []));
  });
}

/** Wraps the socket's first `write`/`end`: a refusal in it becomes the documented answer. */
function rewriteRefusal(socket: Duplex): void {
  const { write, end } = socket;
  const restore = () => {
    socket.write = write;
    socket.end = end;
  };
  socket.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
    restore();
    return (write as (...a: unknown[]) => boolean).call(this, documented(chunk) ?? chunk, ...rest);
  } as Duplex['write'];
  socket.end = function (this: Duplex, chunk?: unknown, ...rest: unknown[]) {
    restore();
    const first = typeof chunk === 'function' || chunk === undefined ? chunk : (documented(chunk) ?? chunk);
    return (end as (...a: unknown[]) => Duplex).call(this, first, ...rest);
  } as Duplex['end'];
}

/** Headers of a raw refusal that are kept (ws names the versions it speaks, for example). */
const REPLACED = new Set(['connection', 'content-type', 'content-length']);

/**
 * The documented answer for a raw refusal (`HTTP/1.1 4xx|5xx …`), or null for anything else.
 * engine.io refuses every upgrade with 400; its `Forbidden` (an origin refused) becomes a 403
 * `forbidden_origin`, as the same refusal of a polling request is.
 */
export function documented(chunk: unknown): string | null {
  const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('latin1') : null;
  const status = text ? /^HTTP\/1\.[01] (\d{3}) /.exec(text) : null;
  if (!text || !status || Number(status[1]) < 400) return null;
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split + 4).trim();
  const kept = head
    .split('\r\n')
    .slice(1)
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()] as const)
    .filter(([name]) => name !== '' && !REPLACED.has(name.toLowerCase()));
  const code = Number(status[1]) === 400 && body === 'Forbidden' ? 403 : Number(status[1]);
  return refusal(code, body.slice(0, MAX_MESSAGE) || 'the WebSocket upgrade was refused', kept);
}

/** A raw HTTP/1.1 error answer: the security headers and `{"error": {"code", "message"}}`. */
function refusal(status: number, message: string, extra: ReadonlyArray<readonly [string, string]>): string {
  const body = JSON.stringify({ error: { code: socketIoCode(status), message } });
  const headers: (readonly [string, string])[] = [
    ['Connection', 'close'],
    ['Content-Type', 'application/json; charset=utf-8'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ...SECURITY_HEADERS,
    ...extra,
  ];
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${headers.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n${body}`;
}
