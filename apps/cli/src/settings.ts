import { TabgridClient } from '@tabgrid/client';
import { CliError } from './cli-error';

export const DEFAULT_SERVER = 'http://localhost:8080';

/** Where the server is and which key to send: `--server` or `TABGRID_URL`, and `TABGRID_KEY`. */
export interface Settings {
  server: string;
  key: string | null;
}

export function settingsFrom(options: { server?: string }, env: NodeJS.ProcessEnv): Settings {
  const server = options.server ?? env.TABGRID_URL ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CliError(`the server address "${server}" is not a URL (e.g. ${DEFAULT_SERVER})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`the server address must start with http:// or https:// (got "${server}")`);
  const key = env.TABGRID_KEY?.trim() || null;
  return { server: url.origin + url.pathname.replace(/\/+$/, ''), key };
}

/** The client for the API; refuses to go on without a key (every `/api` route needs one). */
export function clientFor(settings: Settings): TabgridClient {
  if (!settings.key)
    throw new CliError('no API key: set TABGRID_KEY (create one with `npm run keys -- create <name>`)');
  return new TabgridClient({ baseUrl: settings.server, apiKey: settings.key });
}
