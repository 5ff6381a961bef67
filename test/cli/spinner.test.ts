import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withSpinner } from '../../src/cli/spinner.ts';

/** The spinner appears only on a terminal, only past a second, and leaves nothing behind. */
describe('withSpinner', () => {
  let written: string[];
  const tty = process.stderr.isTTY;
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'performance'],
    });
    written = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    process.stderr.isTTY = tty;
  });

  it('draws after a second on a terminal, counting seconds, and clears its line at the end', async () => {
    process.stderr.isTTY = true;
    let finish!: (v: string) => void;
    const spun = withSpinner('GET /v1/status', new Promise<string>((r) => (finish = r)));
    await vi.advanceTimersByTimeAsync(999);
    expect(written).toEqual([]);
    await vi.advanceTimersByTimeAsync(1200);
    expect(written.length).toBeGreaterThan(5);
    const last = written.at(-1)!;
    expect(last.startsWith('\r\u001b[2K')).toBe(true);
    expect(last.slice(5)).toMatch(/^. GET \/v1\/status \(2 s\)$/);
    finish('answer');
    expect(await spun).toBe('answer');
    expect(written.at(-1)).toBe('\r\u001b[2K');
    const drawn = written.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(written).toHaveLength(drawn);
  });

  it('draws nothing for work done within a second, nor off a terminal, and passes failures on', async () => {
    process.stderr.isTTY = true;
    expect(await withSpinner('quick', Promise.resolve(1))).toBe(1);
    await vi.advanceTimersByTimeAsync(3000);
    process.stderr.isTTY = false;
    let fail!: (e: Error) => void;
    const slow = withSpinner('slow', new Promise((_, reject) => (fail = reject)));
    await vi.advanceTimersByTimeAsync(3000);
    fail(new Error('refused'));
    await expect(slow).rejects.toThrow('refused');
    expect(written).toEqual([]);
  });
});
