/**
 * Which browser origins may call the API and open Socket.IO connections.
 *
 * - `TABGRID_ALLOWED_ORIGINS` set: exactly those origins (comma-separated, e.g.
 *   `https://tabgrid.example.org,http://localhost:5173`).
 * - unset: the server's own origin, i.e. an `Origin` whose host:port equals the request's
 *   `Host` header. That accepts `http://localhost:8080` and `http://127.0.0.1:8080` alike
 *   (each page talks to the host it was loaded from) and a TLS proxy in front (scheme ignored).
 *
 * Requests without an `Origin` header (curl, the agent, Node clients) are not browser
 * cross-site requests and are let through; they still need a key where one is required.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string> | null;

  constructor(allowedOrigins: readonly string[]) {
    this.allowed = allowedOrigins.length > 0 ? new Set(allowedOrigins.map(normalise)) : null;
  }

  allows(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.allowed) return this.allowed.has(normalise(origin));
    if (!host) return false;
    try {
      return new URL(origin).host === host.toLowerCase();
    } catch {
      return false; // "null" (sandboxed frames, file://) and garbage
    }
  }
}

const normalise = (origin: string) => origin.trim().replace(/\/+$/, '').toLowerCase();

/**
 * Parses `TABGRID_ALLOWED_ORIGINS`.
 *
 * @example parseOrigins('https://a.example, http://localhost:5173') // ['https://a.example', 'http://localhost:5173']
 */
export function parseOrigins(raw: string | undefined): string[] {
  if (!raw || raw.trim() === '') return [];
  return raw.split(',').map((o) => {
    const origin = o.trim();
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new Error(`TABGRID_ALLOWED_ORIGINS: "${origin}" is not an origin like https://host:port`);
    }
    if (url.origin !== origin.replace(/\/+$/, ''))
      throw new Error(
        `TABGRID_ALLOWED_ORIGINS: "${origin}" must be an origin (scheme://host[:port]), no path`,
      );
    return url.origin;
  });
}
