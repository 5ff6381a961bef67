import { describe, expect, it } from 'vitest';
import { hopping, session, tumbling } from '../../src/stream/index.ts';

describe('window assigners', () => {
  it('tumbling windows are back to back, aligned to the epoch and an offset', () => {
    const w = tumbling('5m');
    expect(w.assign(0)).toEqual([{ start: 0, end: 300_000 }]);
    expect(w.assign(299_999)).toEqual([{ start: 0, end: 300_000 }]);
    expect(w.assign(300_000)).toEqual([{ start: 300_000, end: 600_000 }]);
    // Before 1970 too: the window still holds the time.
    expect(w.assign(-1)).toEqual([{ start: -300_000, end: 0 }]);
    expect(tumbling('1h', { offset: '15m' }).assign(3_600_000)).toEqual([{ start: 900_000, end: 4_500_000 }]);
  });

  it('hopping windows give each record to size/slide windows, oldest first', () => {
    const w = hopping('10s', '5s');
    expect(w.assign(12_000)).toEqual([
      { start: 5_000, end: 15_000 },
      { start: 10_000, end: 20_000 },
    ]);
    expect(w.assign(10_000)).toEqual([
      { start: 5_000, end: 15_000 },
      { start: 10_000, end: 20_000 },
    ]);
    expect(hopping('1m', '20s').assign(65_000)).toHaveLength(3);
    for (const ts of [0, 1, 4_999, 5_000, 123_456])
      for (const win of w.assign(ts)) expect(win.start <= ts && ts < win.end).toBe(true);
  });

  it('session windows start as the record plus the gap', () => {
    expect(session('30s').assign(1_000)).toEqual([{ start: 1_000, end: 31_000 }]);
  });

  it('refuses sizes that make no windows', () => {
    expect(() => tumbling(0)).toThrow(/longer than 0 ms/);
    expect(() => hopping('5s', '10s')).toThrow(/cannot exceed its size/);
    expect(() => session('soon')).toThrow(/Invalid duration/);
  });
});
