/**
 * A clean install tells the truth (issue 19): every package the lock installs accepts the lowest
 * Node that package.json's `engines` promises (so `npm ci` prints no EBADENGINE warning on it),
 * and npm is given no configuration it does not know (an `.npmrc` key npm warns about on every
 * command). Install scripts are all reviewed (`allowScripts`), so npm lists none as unreviewed.
 */
import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<
    string,
    { version?: string; engines?: { node?: string } | string[]; hasInstallScript?: boolean }
  >;
};

describe('clean install', () => {
  it('every locked package accepts the lowest Node that engines promises', () => {
    const lowest = semver.minVersion(pkg.engines.node)!.version;
    expect(lowest).toBe('20.19.0');
    const refusing = Object.entries(lock.packages)
      .filter(([name, p]) => name !== '' && !Array.isArray(p.engines) && p.engines?.node)
      .filter(([, p]) => !semver.satisfies(lowest, (p.engines as { node: string }).node))
      .map(([name, p]) => `${name}@${p.version} wants node ${(p.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
  });

  it('has no .npmrc key npm does not know (npm warns about those on every run)', () => {
    const npmrc = path.join(root, '.npmrc');
    const keys = fs.existsSync(npmrc)
      ? fs
          .readFileSync(npmrc, 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('#') && !l.startsWith(';'))
          .map((l) => l.split('=')[0]!.trim())
      : [];
    expect(keys.filter((k) => k.includes('onnxruntime'))).toEqual([]);
  });

  it('reviews every install script in allowScripts', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([name, p]) => name !== '' && p.hasInstallScript)
      .map(([name]) => name.slice(name.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    expect([...new Set(withScripts)].filter((n) => !(n in (pkg.allowScripts ?? {})))).toEqual([]);
    // onnxruntime-node's postinstall only downloads CUDA binaries (from nuget.org); its CPU
    // binary ships in the package.
    expect(pkg.allowScripts?.['onnxruntime-node']).toBe(false);
  });
});
