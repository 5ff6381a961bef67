import { describe, expect, it } from 'vitest';
import { boundedOutOfOrderness, NO_WATERMARK, WatermarkTracker } from '../../src/stream/index.ts';

describe('watermarks', () => {
  it('trail the largest event time per partition by maxOutOfOrder and never go back', () => {
    const t = new WatermarkTracker(boundedOutOfOrderness('10s'), [0], 0);
    expect(t.current).toBe(NO_WATERMARK);
    expect(t.observe(0, 60_000, 0)).toBe(49_999);
    expect(t.observe(0, 55_000, 0)).toBe(49_999);
    expect(t.observe(0, 70_000, 0)).toBe(59_999);
  });

  it("take the minimum over a task's partitions; an empty partition holds them back until it idles", () => {
    const t = new WatermarkTracker(boundedOutOfOrderness(0, { idleAfter: '1m' }), [0, 1], 0);
    expect(t.observe(0, 100_000, 1_000)).toBe(NO_WATERMARK);
    expect(t.observe(1, 40_000, 2_000)).toBe(39_999);
    expect(t.observe(0, 200_000, 3_000)).toBe(39_999);
    // Partition 1 goes silent: after a minute of processing time it stops holding the watermark back.
    expect(t.tick(61_000)).toBe(39_999);
    expect(t.tick(62_000)).toBe(199_999);
    // Active again: it counts again, but the watermark does not go back.
    expect(t.observe(1, 50_000, 63_000)).toBe(199_999);
    expect(t.observe(0, 300_000, 63_500)).toBe(199_999);
    expect(t.observe(1, 250_000, 64_000)).toBe(249_999);
  });

  it('restore what a snapshot held', () => {
    const t = new WatermarkTracker(boundedOutOfOrderness('5s'), [0, 1], 0);
    t.observe(0, 20_000, 0);
    t.observe(1, 30_000, 0);
    const restored = new WatermarkTracker(boundedOutOfOrderness('5s'), [0, 1], 0);
    restored.restore(t.snapshot(), 0);
    expect(restored.current).toBe(t.current);
    expect(restored.of(1)).toBe(24_999);
  });
});
