import { describe, expect, it } from 'vitest';
import type { EdgeMemory } from '../edges/edge-memory';
import { LocalEdgeMemory } from '../edges/local-edge-memory';
import { LossLedger } from './loss-ledger';

describe('LossLedger (rule T13)', () => {
  it('counts one loss per network and task, keeps the task from that network, and calls the referee once', () => {
    const ledger = new LossLedger({ distinctNetworks: true, refereeAfter: 2 });
    ledger.seen('a', '10.0.1.5');
    ledger.seen('b', '10.0.1.9'); // same /24
    ledger.seen('c', '10.0.2.1');
    expect(ledger.lose('t', 'a')).toEqual({ networks: 1, referee: false });
    expect(ledger.lose('t', 'b')).toEqual({ networks: 1, referee: false }); // its network already lost it
    expect(ledger.keepsFrom('t', 'fresh-identity', '10.0.1.200')).toBe(true);
    expect(ledger.keepsFrom('t', 'c', '10.0.2.1')).toBe(false);
    expect(ledger.keepsFrom('other-task', 'a', '10.0.1.5')).toBe(false);
    expect(ledger.lose('t', 'c')).toEqual({ networks: 2, referee: true });
    ledger.seen('d', '10.0.3.1');
    expect(ledger.lose('t', 'd')).toEqual({ networks: 3, referee: false }); // asked once
    ledger.forget('t');
    expect(ledger.size).toBe(0);
    expect(ledger.keepsFrom('t', 'a', '10.0.1.5')).toBe(false);
  });

  it('with TABGRID_DISTINCT_NETWORKS=0 each identity is its own network', () => {
    const ledger = new LossLedger({ distinctNetworks: false, refereeAfter: 3 });
    ledger.seen('a', '127.0.0.1');
    ledger.seen('b', '127.0.0.1');
    ledger.lose('t', 'a');
    expect(ledger.keepsFrom('t', 'a', '127.0.0.1')).toBe(true);
    expect(ledger.keepsFrom('t', 'b', '127.0.0.1')).toBe(false);
    expect(ledger.lose('t', 'b').networks).toBe(2);
  });

  it('is bounded', () => {
    const ledger = new LossLedger({ distinctNetworks: true, refereeAfter: 3, maxTasks: 10 });
    for (let i = 0; i < 100; i++) ledger.lose(`t${i}`, 'a');
    expect(ledger.size).toBe(10);
  });
});

describe('LossLedger shared by gateways (rule T13, Redis)', () => {
  /** One memory two gateways share (`shared`: each reads the other's losses). */
  const sharedMemory = (): EdgeMemory =>
    Object.create(new LocalEdgeMemory(), { shared: { value: true } }) as EdgeMemory;
  const flush = () => new Promise((r) => setTimeout(r, 5));

  function gateway(memory: EdgeMemory, offered: Set<string>) {
    const events: string[] = [];
    const ledger = new LossLedger(
      { distinctNetworks: true, refereeAfter: 3 },
      {
        memory,
        rememberMs: 60_000,
        now: () => 0,
        neverOffered: (taskId) => !offered.has(taskId),
        loaded: () => events.push('loaded'),
        refereeDue: (taskId) => events.push(`referee ${taskId}`),
        report: (err) => {
          throw err;
        },
      },
    );
    return { ledger, events };
  }

  it("a task lost on gateway 1 is kept from that network on gateway 2, and the referee counts both gateways' losses", async () => {
    const memory = sharedMemory();
    const offered = new Set(['t']);
    const one = gateway(memory, offered);
    const two = gateway(memory, offered);
    one.ledger.seen('a', '10.0.1.5');
    expect(one.ledger.lose('t', 'a')).toEqual({ networks: 1, referee: false });
    await flush();
    // Gateway 2 never saw the task's losses: kept from everyone while they are read.
    expect(two.ledger.keepsFrom('t', 'b', '10.0.2.1')).toBe(true);
    await flush();
    expect(two.events).toEqual(['loaded']);
    expect(two.ledger.keepsFrom('t', 'fresh', '10.0.1.77')).toBe(true);
    expect(two.ledger.keepsFrom('t', 'b', '10.0.2.1')).toBe(false);
    // A task never offered anywhere has nothing to read.
    expect(two.ledger.keepsFrom('new', 'b', '10.0.2.1')).toBe(false);
    two.ledger.seen('b', '10.0.2.1');
    two.ledger.lose('t', 'b');
    await flush();
    // Gateway 1 knows two networks of three; the shared set has three: the referee is due (once).
    one.ledger.seen('c', '10.0.3.1');
    expect(one.ledger.lose('t', 'c')).toEqual({ networks: 2, referee: false });
    await flush();
    expect(one.events).toEqual(['referee t']);
    expect(one.ledger.losses('t')).toBe(3);
    one.ledger.forget('t');
    await flush();
    expect(await memory.members('lost:t', 0)).toEqual([]);
  });
});
