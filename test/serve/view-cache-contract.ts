import { afterEach, describe, expect, it } from 'vitest';
import { cachedLatest, type StoredRow, type ViewCache } from '../../src/serve/index.ts';
import { uniqueName } from '../support/temp-dir.ts';

/** The ViewCache contract suite: memory and Redis run it unchanged. */
export interface ViewCacheHarness {
  open(): Promise<ViewCache>;
}

const row = (key: unknown, start: number, n: number): StoredRow => ({
  key,
  windowStart: start,
  windowEnd: start + 100,
  kind: 'final',
  values: { n },
});

export function viewCacheContract(name: string, harness: ViewCacheHarness): void {
  describe(`ViewCache contract: ${name}`, () => {
    const open: ViewCache[] = [];
    const cache = async () => {
      const c = await harness.open();
      open.push(c);
      return c;
    };
    const view = () => uniqueName('view');
    afterEach(async () => {
      for (const c of open.splice(0)) await c.close();
    });

    it('misses, fills from the store, then hits, also for a key the store has no row for', async () => {
      const c = await cache();
      const v = view();
      let reads = 0;
      const read = (r: StoredRow | null) => async () => {
        reads++;
        return r;
      };
      expect(await cachedLatest(c, v, 'a', read(row('a', 0, 1)))).toEqual({
        row: row('a', 0, 1),
        hit: false,
      });
      expect(await cachedLatest(c, v, 'a', read(row('a', 0, 99)))).toEqual({
        row: row('a', 0, 1),
        hit: true,
      });
      expect(await cachedLatest(c, v, 'nobody', read(null))).toEqual({ row: null, hit: false });
      expect(await cachedLatest(c, v, 'nobody', read(row('x', 0, 1)))).toEqual({ row: null, hit: true });
      expect(reads).toBe(2);
      // Keys of different types are different keys.
      expect(await c.get(v, 1)).toBeUndefined();
      await c.fill(v, 1, row(1, 0, 5), await c.epoch(v));
      expect(await c.get(v, '1')).toBeUndefined();
      expect((await c.get(v, 1))?.values.n).toBe(5);
    });

    it('refuses a fill read before a batch was committed', async () => {
      const c = await cache();
      const v = view();
      const epoch = await c.epoch(v);
      // The materializer commits a batch and offers it (the key is absent: nothing to offer to).
      await c.bump(v);
      await c.offer(v, [row('a', 100, 2)]);
      // A reader that read the store before that commit comes back with the old row.
      await c.fill(v, 'a', row('a', 0, 1), epoch);
      expect(await c.get(v, 'a')).toBeUndefined();
    });

    it('corrects a stale fill that slipped in before the bump, with the offer after it', async () => {
      const c = await cache();
      const v = view();
      const epoch = await c.epoch(v);
      await c.fill(v, 'a', row('a', 0, 1), epoch);
      await c.bump(v);
      await c.offer(v, [row('a', 100, 2)]);
      expect(await c.get(v, 'a')).toEqual(row('a', 100, 2));
    });

    it('keeps the latest window per key: an older window offered later does not replace it', async () => {
      const c = await cache();
      const v = view();
      await c.fill(v, 'a', row('a', 100, 2), await c.epoch(v));
      await c.fill(v, 'b', null, await c.epoch(v));
      await c.bump(v);
      await c.offer(v, [row('a', 0, 10), row('b', 0, 3), row('b', 200, 4), row('c', 0, 1)]);
      expect(await c.get(v, 'a')).toEqual(row('a', 100, 2));
      expect(await c.get(v, 'b')).toEqual(row('b', 200, 4));
      // Not cached before, not cached now: only a read fills.
      expect(await c.get(v, 'c')).toBeUndefined();
      await c.offer(v, [{ ...row('a', 100, 7), kind: 'update' }]);
      expect((await c.get(v, 'a'))?.values.n).toBe(7);
      // Rows the store confirmed as their key's latest are cached whether or not the key was.
      await c.offer(v, [row('c', 0, 1), row('a', 0, 99)], { absent: true });
      expect(await c.get(v, 'c')).toEqual(row('c', 0, 1));
      expect((await c.get(v, 'a'))?.values.n).toBe(7);
    });

    it('evicts a key whose cached window was deleted, and clears a view', async () => {
      const c = await cache();
      const v = view();
      const other = view();
      await c.fill(v, 'a', row('a', 0, 1), await c.epoch(v));
      await c.fill(v, 'b', row('b', 0, 1), await c.epoch(v));
      await c.fill(other, 'a', row('a', 0, 1), await c.epoch(other));
      await c.evict(v, [
        { key: 'a', windowStart: 0, windowEnd: 100 },
        { key: 'b', windowStart: 500, windowEnd: 600 },
      ]);
      expect(await c.get(v, 'a')).toBeUndefined();
      expect(await c.get(v, 'b')).toEqual(row('b', 0, 1));
      await c.clear(v);
      expect(await c.get(v, 'b')).toBeUndefined();
      expect(await c.get(other, 'a')).toEqual(row('a', 0, 1));
    });
  });
}
