import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptStateError, FileIdentityStore } from './state';

const statePath = () => path.join(mkdtempSync(path.join(tmpdir(), 'tabgrid-state-')), 'agent.json');
const identity = {
  volunteerId: 'v_0123456789abcdef0123456789abcdef',
  token: 'T'.repeat(43),
  displayName: 'bold-otter-7',
};

describe('FileIdentityStore (the agent state file)', () => {
  it('has no identity before the first save, then keeps id, token and name in a 0600 file', async () => {
    const file = statePath();
    const store = new FileIdentityStore(file);
    expect(await store.load()).toBeNull();
    await store.save(identity);
    expect(await new FileIdentityStore(file).load()).toEqual(identity);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject(identity);
  });

  it('reads a protocol-1 file (an id without a token) as no identity, and forgets on clear', async () => {
    const file = statePath();
    writeFileSync(file, JSON.stringify({ volunteerId: 'agent-3f9c0a1b', createdAt: '2026-01-01' }));
    const lines: string[] = [];
    const store = new FileIdentityStore(file, (l) => lines.push(l));
    expect(await store.load()).toBeNull();
    expect(lines.join('\n')).toMatch(/no server-issued identity/);
    await store.save(identity);
    await store.clear();
    expect(await store.load()).toBeNull();
  });

  it('refuses a corrupt file instead of silently replacing it', async () => {
    const file = statePath();
    writeFileSync(file, '{ not json');
    await expect(new FileIdentityStore(file).load()).rejects.toBeInstanceOf(CorruptStateError);
  });
});
