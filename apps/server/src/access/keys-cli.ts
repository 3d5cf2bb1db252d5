/**
 * `npm run keys -- create <name> | list | revoke <name>`: manages requesters' API keys in the
 * server's store: the database in `TABGRID_DATA_DIR` (default ./data), or Redis when
 * `TABGRID_REDIS_URL` is set. Works while the server runs (SQLite WAL; Redis is shared).
 * A created key is printed once; only its SHA-256 is stored.
 */
import { loadConfig } from '../config';
import { openBackend } from '../storage/backend';
import { KeyNameError, KeyStore } from './key-store';

const USAGE = 'usage: npm run keys -- create <name> | list | revoke <name>';

async function main(argv: string[]): Promise<number> {
  const [command, name] = argv;
  const config = loadConfig();
  const backend = await openBackend(config, {
    report: (where, err) => console.error(where, err),
    warn: (message) => console.error(`warning: ${message}`),
  });
  try {
    const keys = new KeyStore(backend.keys, config.apiKeys);
    switch (command) {
      case 'create': {
        if (!name) break;
        const key = await keys.create(name);
        console.log(`Created key "${name}". It is shown only this once:\n\n  ${key}\n`);
        console.log(`Sign in: http://localhost:${config.port}/#key=${key}`);
        console.log(`API:     curl -H "Authorization: Bearer ${key}" http://localhost:${config.port}/api/me`);
        return 0;
      }
      case 'list': {
        for (const k of config.apiKeys) console.log(`${k.name}\t(TABGRID_API_KEYS)`);
        for (const k of await keys.list())
          console.log(`${k.name}\tcreated ${new Date(k.createdAt).toISOString()}`);
        return 0;
      }
      case 'revoke': {
        if (!name) break;
        if (!(await keys.revoke(name))) {
          console.error(`no stored key named "${name}"`);
          return 1;
        }
        console.log(`Revoked "${name}". Its jobs stay; a new key with this name would own them again.`);
        return 0;
      }
    }
    console.error(USAGE);
    return 2;
  } catch (err) {
    if (err instanceof KeyNameError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  } finally {
    await backend.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
