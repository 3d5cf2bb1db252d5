import { describe, expect, it } from 'vitest';
import { choosePoolShape } from './inferencePool';

const isolated = (cores: number) => ({ crossOriginIsolated: true, cores });
const notIsolated = { crossOriginIsolated: false, cores: 8 };

describe('choosePoolShape', () => {
  it('isolated: min(cores, 4) single-threaded workers', () => {
    expect(choosePoolShape({}, isolated(2))).toEqual({ workers: 2, threadsPerWorker: 1 });
    expect(choosePoolShape({}, isolated(16))).toEqual({ workers: 4, threadsPerWorker: 1 });
    expect(choosePoolShape({}, isolated(1))).toEqual({ workers: 1, threadsPerWorker: 1 });
  });

  it('not isolated: one worker with one thread', () => {
    expect(choosePoolShape({}, notIsolated)).toEqual({ workers: 1, threadsPerWorker: 1 });
    expect(choosePoolShape({ threads: 4 }, notIsolated)).toEqual({ workers: 1, threadsPerWorker: 1 });
  });

  it('?threads=N alone means one worker with N threads', () => {
    expect(choosePoolShape({ threads: 2 }, isolated(4))).toEqual({ workers: 1, threadsPerWorker: 2 });
  });

  it('?workers=K overrides the pool size (clamped to 1..8), threads default to 1', () => {
    expect(choosePoolShape({ workers: 3 }, isolated(2))).toEqual({ workers: 3, threadsPerWorker: 1 });
    expect(choosePoolShape({ workers: 3, threads: 2 }, isolated(8))).toEqual({
      workers: 3,
      threadsPerWorker: 2,
    });
    expect(choosePoolShape({ workers: 50 }, isolated(2)).workers).toBe(8);
    expect(choosePoolShape({ workers: 0 }, isolated(2))).toEqual({ workers: 2, threadsPerWorker: 1 });
  });
});
