/**
 * The credit ledger (ARCHITECTURE.md "Credits", docs/SECURITY.md "Credits").
 *
 * @example
 * const ledger = new RedisLedgerStore(connectRedis(config.redisUrl!, 'commands')); // Redis mode
 * const ledger = new SqliteLedgerStore(db);                                         // one process
 * const credits = new CreditKeeper(ledger, { errors, displayName, now: () => clock.now() });
 */
export { CreditKeeper, creditsView, type CreditKeeperOptions, type LeaderRow } from './credit-keeper';
export { DEFAULT_CREDIT_POLICY, creditPolicyFor, quickReturnMsFor, type CreditPolicy } from './policy';
export { RedisLedgerStore } from './redis-ledger';
export { SqliteLedgerStore } from './sqlite-ledger';
export type * from './types';
