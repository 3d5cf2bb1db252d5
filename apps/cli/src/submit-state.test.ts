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
