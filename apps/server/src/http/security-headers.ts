import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ErrorCode } from '@tabgrid/protocol';
import helmet from 'helmet';

/**
 * The Content-Security-Policy of every response. What the app truly needs:
 * - `script-src 'self' 'wasm-unsafe-eval'`: our bundles, and compiling onnxruntime-web's WASM;
 * - `worker-src 'self' blob:`: the inference workers (and ORT's own, which may be blob: URLs);
 * - `connect-src 'self'`: the API, `/models/`, `/ort/` and Socket.IO's WebSocket (same origin);
 * - `img-src 'self' blob: data:`: signed image URLs, dashboard images fetched with the key.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
  workerSrc: ["'self'", 'blob:'],
  connectSrc: ["'self'"],
  imgSrc: ["'self'", 'blob:', 'data:'],
  styleSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  // Not upgrade-insecure-requests: the quickstart and LAN volunteers use plain http.
  upgradeInsecureRequests: null,
};

/**
 * Security headers, via helmet: the CSP above, `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, and cross-origin isolation, which
 * WASM threads need (SharedArrayBuffer): COOP same-origin, COEP require-corp, CORP same-origin.
 * No HSTS: whoever terminates TLS in front of the server decides that.
 */
const setSecurityHeaders = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginEmbedderPolicy: { policy: 'require-corp' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  referrerPolicy: { policy: 'no-referrer' },
  frameguard: { action: 'deny' },
  strictTransportSecurity: false,
});

/** Socket.IO's own HTTP answers live under this path (engine.io's default). */
export const SOCKET_IO_PATH = '/socket.io/';

/**
 * The security headers as name/value pairs, for answers written raw on a socket (WebSocket
 * upgrade refusals, upgrade-refusals.ts). Helmet's headers do not depend on the request (no
 * nonce), so they are collected once.
 */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = (() => {
  const headers: [string, string][] = [];
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) =>
      headers.push([name, String(value)]),
    removeHeader: () => undefined,
  };
  setSecurityHeaders({} as IncomingMessage, res as unknown as ServerResponse, () => undefined);
  return headers;
})();

const SOCKET_IO_CODES: Record<number, ErrorCode> = {
  403: 'forbidden_origin',
  404: 'not_found',
  413: 'payload_too_large',
  500: 'internal',
  503: 'shutting_down',
};

/** An error code for an HTTP status that Socket.IO (engine.io, ws) answers on its own. */
export const socketIoCode = (status: number): ErrorCode => SOCKET_IO_CODES[status] ?? 'bad_request';

/**
 * Every HTTP answer of `server` carries the security headers (PROTOCOL.md rule H1): pages, assets,
 * API answers, Fastify's framework errors (malformed URLs), 404s, and Socket.IO's own answers
 * (polling, handshake refusals). The headers are set on the raw response before any handler runs,
 * so nothing that answers later can skip them; a handler may still override one (Node merges
 * `writeHead` headers over them). Socket.IO's error answers (`{"code","message"}` from engine.io)
 * are rewritten to the documented `{"error":{"code","message"}}` body.
 *
 * Call it after Socket.IO is attached: engine.io takes over the server's `request` listeners, and
 * this one must run before its.
 */
export function installSecurityHeaders(server: Server): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    setSecurityHeaders(req, res, () => undefined);
    if (req.url?.startsWith(SOCKET_IO_PATH)) documentSocketIoErrors(res);
  });
}

/** engine.io answers its refusals `{"code": n, "message"}`; the documented body replaces it. */
function documentSocketIoErrors(res: ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  let refused = false;
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    if (status < 400) return writeHead(status, ...rest);
    refused = true;
    return writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  }) as ServerResponse['writeHead'];
  res.end = ((...args: unknown[]) => {
    if (!refused) return end(...args);
    const chunk = args[0];
    let message = 'the Socket.IO request was refused';
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
      try {
        const parsed = JSON.parse(chunk.toString()) as { message?: unknown };
        if (typeof parsed.message === 'string') message = parsed.message.slice(0, 200);
      } catch {
        /* not engine.io's JSON: keep the generic message */
      }
    }
    const code = socketIoCode(res.statusCode);
    return end(JSON.stringify({ error: { code, message } }));
  }) as ServerResponse['end'];
}
