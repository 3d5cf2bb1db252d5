import { describe, expect, it } from 'vitest';
import type { LocalFile } from './local-files';
import { acceptedByServer, statePath } from './submit-state';

const file = (p: string): LocalFile => ({ path: p, name: p.split('/').pop()!, size: 1, mtimeMs: 1 });
const job = (...names: string[]) => ({ tasks: names.map((name) => ({ name })) }) as never;

describe('acceptedByServer', () => {
  const files = ['/p/a/1.jpg', '/p/a/2.jpg', '/p/b/1.jpg', '/p/b/3.jpg', '/p/c.jpg'].map(file);

  it('finds the files a chunk stored after the state was last written, in upload order', () => {
    const state = { accepted: ['/p/a/1.jpg'], rejected: [] };
    expect(acceptedByServer(job('1.jpg', '2.jpg', '1.jpg'), files, state)).toEqual([
      '/p/a/2.jpg',
      '/p/b/1.jpg',
    ]);
  });

  it('skips files the state records as rejected, and finds nothing when the state is complete', () => {
    const state = {
      accepted: ['/p/a/1.jpg'],
      rejected: [{ path: '/p/a/2.jpg', code: 'corrupt_image', message: '' }],
    };
    expect(acceptedByServer(job('1.jpg', '1.jpg', '3.jpg'), files, state)).toEqual([
      '/p/b/1.jpg',
      '/p/b/3.jpg',
    ]);
    expect(acceptedByServer(job('1.jpg'), files, state)).toEqual([]);
  });
});

describe('acceptedByServer with digests (PROTOCOL.md H7)', () => {
  const files = ['/p/a/1.jpg', '/p/b/1.jpg', '/p/b/3.jpg'].map(file);
  // Stand-in hashes: each path's bytes.
  const sha = (p: string) =>
    p === '/p/a/1.jpg' ? 'aa'.repeat(32) : p === '/p/b/1.jpg' ? 'bb'.repeat(32) : 'cc'.repeat(32);
  const photo = (name: string, hex: string) => ({ name, digest: hex.slice(0, 16) });

  it('takes a file as held only when its bytes are the job photo of that name', () => {
    const state = { accepted: [], rejected: [] };
    // The job holds /p/b/1.jpg's bytes under 1.jpg: /p/a/1.jpg (other bytes, same name) is not it.
    expect(acceptedByServer({ tasks: [photo('1.jpg', 'bb'.repeat(32))] }, files, state, sha)).toEqual([
      '/p/b/1.jpg',
    ]);
    expect(
      acceptedByServer(
        { tasks: [photo('1.jpg', 'aa'.repeat(32)), photo('3.jpg', 'cc'.repeat(32))] },
        files,
        state,
        sha,
      ),
    ).toEqual(['/p/a/1.jpg', '/p/b/3.jpg']);
    // A different file under a name the job has: not held, so it is sent.
    expect(acceptedByServer({ tasks: [photo('3.jpg', 'dd'.repeat(32))] }, files, state, sha)).toEqual([]);
  });
});

describe('statePath', () => {
  it('is the same for the same files and differs when one changes, the server or --public', () => {
    const files = [file('/p/a.jpg'), file('/p/b.jpg')];
    const base = statePath('/s', 'http://x', files, false);
    expect(
      statePath(
        '/s',
        'http://x',
        files.map((f) => ({ ...f })),
        false,
      ),
    ).toBe(base);
    expect(statePath('/s', 'http://x', [files[0]!, { ...files[1]!, size: 2 }], false)).not.toBe(base);
    expect(statePath('/s', 'http://y', files, false)).not.toBe(base);
    expect(statePath('/s', 'http://x', files, true)).not.toBe(base);
  });
});
