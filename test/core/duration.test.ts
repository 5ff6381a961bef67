import { describe, expect, it } from 'vitest';
import { formatDuration, InvalidDurationError, toMillis } from '../../src/core/index.ts';

describe('durations', () => {
  it.each([
    [250, 250],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['1000', 1000],
  ])('parses %j', (input, ms) => {
    expect(toMillis(input)).toBe(ms);
  });

  it.each(
    ['', '5', 'x', '5 m', '-1s', '5mm', 's5', 'NaN', -1, Number.POSITIVE_INFINITY, '9'.repeat(100)].filter(
      (v) => v !== '5',
    ),
  )('rejects %j with a typed error', (input) => {
    expect(() => toMillis(input as string)).toThrow(InvalidDurationError);
  });

  it('formats milliseconds back', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0ms');
  });
});
