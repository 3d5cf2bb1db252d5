import { describe, expect, it } from 'vitest';
import { pauseReason } from './pauseReason';
import { DEFAULT_SETTINGS } from './settings';

const NOW = 1_700_000_000_000;
const inputs = (
  settings: Partial<typeof DEFAULT_SETTINGS>,
  more: { hidden?: boolean; onBattery?: boolean | null } = {},
) => ({
  settings: { ...DEFAULT_SETTINGS, ...settings },
  now: NOW,
  hidden: more.hidden ?? false,
  onBattery: more.onBattery ?? null,
});

describe('pauseReason', () => {
  it('works by default, visible or hidden, on battery or not', () => {
    expect(pauseReason(inputs({}))).toBeNull();
    expect(pauseReason(inputs({}, { hidden: true, onBattery: true }))).toBeNull();
  });

  it('pause, and pause for an hour until the hour is over', () => {
    expect(pauseReason(inputs({ paused: true }))).toBe('paused');
    expect(pauseReason(inputs({ pausedUntil: NOW + 1000 }))).toBe('pausedForAnHour');
    expect(pauseReason(inputs({ pausedUntil: NOW - 1 }))).toBeNull();
  });

  it('only while visible: pauses when the tab is hidden', () => {
    expect(pauseReason(inputs({ background: false }, { hidden: true }))).toBe('hidden');
    expect(pauseReason(inputs({ background: false }, { hidden: false }))).toBeNull();
  });

  it('pause on battery: only when the Battery Status API says so', () => {
    expect(pauseReason(inputs({ pauseOnBattery: true }, { onBattery: true }))).toBe('onBattery');
    expect(pauseReason(inputs({ pauseOnBattery: true }, { onBattery: false }))).toBeNull();
    expect(pauseReason(inputs({ pauseOnBattery: true }, { onBattery: null }))).toBeNull();
  });
});
