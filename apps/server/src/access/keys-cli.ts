/**
 * `npm run keys -- create <name> | list | revoke <name>`: manages requesters' API keys in the
 * server's database (`TABGRID_DATA_DIR`, default ./data). Works while the server runs (SQLite WAL).
 * A created key is printed once; only its SHA-256 is stored.
 */
import { loadConfig } from '../config';
import { openDatabase } from '../storage/database';
import { KeyNameError, KeyStore } from './key-store';

const USAGE = 'usage: npm run keys -- create <name> | list | revoke <name>';

function main(argv: string[]): number {
  const [command, name] = argv;
  const config = loadConfig();
  const db = openDatabase(config.dataDir);
  try {
    const keys = new KeyStore(db, config.apiKeys);
    switch (command) {
      case 'create': {
        if (!name) break;
        const key = keys.create(name);
        console.log(`Created key "${name}". It is shown only this once:\n\n  ${key}\n`);
        console.log(`Sign in: http://localhost:${config.port}/#key=${key}`);
        console.log(`API:     curl -H "Authorization: Bearer ${key}" http://localhost:${config.port}/api/me`);
        return 0;
      }
      case 'list': {
        for (const k of config.apiKeys) console.log(`${k.name}\t(TABGRID_API_KEYS)`);
        for (const k of keys.list()) console.log(`${k.name}\tcreated ${new Date(k.createdAt).toISOString()}`);
        return 0;
      }
      case 'revoke': {
        if (!name) break;
        if (!keys.revoke(name)) {
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
    db.close();
  }
}

process.exitCode = main(process.argv.slice(2));
