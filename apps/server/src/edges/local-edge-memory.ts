import { LRUCache } from 'lru-cache';
import type { EdgeMemory, EdgeWindow } from './edge-memory';

/** Entries kept of each kind at most (the least recently used forgotten first). */
const MAX_ENTRIES = 100_000;

interface Expiring<T> {
  value: T;
  until: number;
}

/**
 * The edge memory of one process (SQLite backend): bounded maps in memory, expired by the
 * caller's clock. Lost at a restart, as the per-gateway counters it replaces were.
 */
export class LocalEdgeMemory implements EdgeMemory {
  readonly shared = false;
  private readonly windows: LRUCache<string, Expiring<number>>;
  private readonly marks: LRUCache<string, Expiring<number>>;
  private readonly sets: LRUCache<string, Expiring<Set<string>>>;

  constructor(max = MAX_ENTRIES) {
    this.windows = new LRUCache({ max });
    this.marks = new LRUCache({ max });
    this.sets = new LRUCache({ max });
  }

  count(key: string, windowMs: number, now: number): Promise<EdgeWindow> {
    let w = live(this.windows, key, now);
    if (!w) this.windows.set(key, (w = { value: 0, until: now + windowMs }));
    w.value++;
    return Promise.resolve({ count: w.value, endsAt: w.until });
  }

  peek(key: string, now: number): Promise<EdgeWindow | null> {
    const w = live(this.windows, key, now);
    return Promise.resolve(w ? { count: w.value, endsAt: w.until } : null);
  }

  raise(key: string, value: number, ttlMs: number, now: number): Promise<void> {
    const m = live(this.marks, key, now);
    this.marks.set(key, { value: Math.max(value, m?.value ?? 0), until: now + ttlMs });
    return Promise.resolve();
  }

  mark(key: string, now: number): Promise<number> {
    return Promise.resolve(live(this.marks, key, now)?.value ?? 0);
  }

  add(key: string, member: string, ttlMs: number, now: number) {
    const s = live(this.sets, key, now)?.value ?? new Set<string>();
    const added = !s.has(member);
    s.add(member);
    this.sets.set(key, { value: s, until: now + ttlMs });
    return Promise.resolve({ added, members: [...s] });
  }

  members(key: string, now: number): Promise<string[]> {
    return Promise.resolve([...(live(this.sets, key, now)?.value ?? [])]);
  }

  drop(key: string): Promise<void> {
    this.sets.delete(key);
    return Promise.resolve();
  }
}

function live<T>(map: LRUCache<string, Expiring<T>>, key: string, now: number): Expiring<T> | undefined {
  const e = map.get(key);
  if (e && e.until <= now) {
    map.delete(key);
    return undefined;
  }
  return e;
}
