import { describe, expect, it } from 'vitest';
import { sha256Hex } from './integrity';
import { parseLabels } from './labels';

const names = Array.from({ length: 80 }, (_, i) => `class ${i}`);

describe('parseLabels', () => {
  it('reads 80 names in order, trimming whitespace and skipping blank lines', () => {
    const labels = parseLabels(`\n${names.join('\r\n')}\n\n  \n`);
    expect(labels).toHaveLength(80);
    expect(labels[0]).toBe('class 0');
    expect(labels[79]).toBe('class 79');
  });

  it.each([0, 79, 81])('rejects a file with %i names', (n) => {
    const text = Array.from({ length: n }, (_, i) => `c${i}`).join('\n');
    expect(() => parseLabels(text)).toThrow(`labels file has ${n} names, expected 80`);
  });
});

describe('sha256Hex', () => {
  it('hashes bytes to lowercase hex', async () => {
    const abc = new TextEncoder().encode('abc');
    expect(await sha256Hex(abc)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await sha256Hex(abc.buffer)).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('hashes only the viewed bytes of a subarray', async () => {
    const bytes = new TextEncoder().encode('xxabcxx').subarray(2, 5);
    expect(await sha256Hex(bytes)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes empty input', async () => {
    expect(await sha256Hex(new Uint8Array(0))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});
