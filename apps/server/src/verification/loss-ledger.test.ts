import { describe, expect, it } from 'vitest';
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
