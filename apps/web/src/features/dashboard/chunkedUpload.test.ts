import { describe, expect, it } from 'vitest';
import { missingFrom, planChunks } from './chunkedUpload';

const file = (name: string, size: number, type = 'image/jpeg') =>
  new File([new Uint8Array(size)], name, { type });

describe('planChunks', () => {
  it('splits a large selection into requests of maxFiles, in order', () => {
    const files = Array.from({ length: 250 }, (_, i) => file(`p${i}.jpg`, 10));
    const { chunks, skipped } = planChunks(files, { maxFiles: 100, maxFileBytes: 1000 });
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(chunks.flat().map((f) => f.name)).toEqual(files.map((f) => f.name));
    expect(skipped).toEqual([]);
  });

  it('skips what the server would refuse anyway, each with its code', () => {
    const { chunks, skipped } = planChunks(
      [
        file('ok.jpg', 10),
        file('.DS_Store', 10, ''),
        file('empty.png', 0, 'image/png'),
        file('huge.jpg', 1001),
        file('no-type.webp', 10, ''),
      ],
      { maxFiles: 100, maxFileBytes: 1000 },
    );
    expect(chunks.flat().map((f) => f.name)).toEqual(['ok.jpg', 'no-type.webp']);
    expect(skipped.map((s) => [s.name, s.code])).toEqual([
      ['.DS_Store', 'unsupported_format'],
      ['empty.png', 'empty_file'],
      ['huge.jpg', 'file_too_large'],
    ]);
    expect(skipped[2]!.message).toBe('1001 bytes, over the limit of 1000 bytes per file');
    const big = planChunks([file('big.jpg', 21 * 1024 * 1024)], {
      maxFiles: 1,
      maxFileBytes: 20 * 1024 * 1024,
    });
    expect(big.skipped[0]!.message).toBe('21 MiB, over the limit of 20 MiB per file');
  });
});

describe('missingFrom', () => {
  it('keeps only the files the job does not have yet (a resumed upload sends only those)', async () => {
    const files = ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'].map((n) => file(n, 10));
    const tasks = [{ name: 'a.jpg' }, { name: 'c.jpg' }];
    expect((await missingFrom(files, tasks)).map((f) => f.name)).toEqual(['b.jpg', 'd.jpg']);
  });
});
