import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, type ObjectStore } from '../../src/storage/index.ts';

/** The one suite every ObjectStore passes (object-store.ts states the contract). */
export function objectStoreContract(name: string, open: () => Promise<ObjectStore>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    beforeAll(async () => {
      store = await open();
    }, 120_000);
    afterAll(async () => store?.close());

    it('puts, gets, overwrites and deletes objects, and answers a missing one with ObjectNotFoundError', async () => {
      await store.put('a/one.bin', Buffer.from('first'));
      expect((await store.get('a/one.bin')).toString()).toBe('first');
      await store.put('a/one.bin', Buffer.from('second'));
      expect((await store.get('a/one.bin')).toString()).toBe('second');
      expect(await store.head('a/one.bin')).toEqual({ size: 6 });
      await store.delete('a/one.bin');
      await store.delete('a/one.bin'); // again: nothing to delete is not an error
      expect(await store.head('a/one.bin')).toBeNull();
      await expect(store.get('a/one.bin')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.get('never/there')).rejects.toMatchObject({ code: 'KAPPA_OBJECT_NOT_FOUND' });
    });

    it('lists every key under a prefix in byte order, nested or not, and no other', async () => {
      const keys = [
        'list/t/dt=2026-01-02/hour=03/0-0-9.parquet',
        'list/t/dt=2026-01-02/hour=03/1-0-4.parquet',
        'list/t/dt=2026-01-01/hour=23/0-0-3.parquet',
        'list/t/manifest.json',
        'list/tx/other.json',
        'list/u.json',
      ];
      for (const [i, key] of keys.entries()) await store.put(key, Buffer.alloc(i + 1));
      expect((await store.list('list/t/')).map((o) => o.key)).toEqual([
        'list/t/dt=2026-01-01/hour=23/0-0-3.parquet',
        'list/t/dt=2026-01-02/hour=03/0-0-9.parquet',
        'list/t/dt=2026-01-02/hour=03/1-0-4.parquet',
        'list/t/manifest.json',
      ]);
      // A prefix is a prefix of keys, not of folders only.
      expect((await store.list('list/t')).map((o) => o.key)).toContain('list/tx/other.json');
      expect((await store.list('list/u.json')).map((o) => [o.key, o.size])).toEqual([['list/u.json', 6]]);
      expect(await store.list('list/none/')).toEqual([]);
    });

    it('keeps large and binary objects byte for byte, and many objects put at once', async () => {
      const big = randomBytes(6 * 1024 * 1024 + 7);
      await store.put('big/blob', big);
      expect((await store.get('big/blob')).equals(big)).toBe(true);
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          store.put(`many/${String(i).padStart(3, '0')}`, Buffer.from([i])),
        ),
      );
      const listed = await store.list('many/');
      expect(listed.map((o) => o.key)).toEqual(
        Array.from({ length: 40 }, (_, i) => `many/${String(i).padStart(3, '0')}`),
      );
      expect((await store.get('many/017'))[0]).toBe(17);
    });

    it('refuses hostile keys before touching the store', async () => {
      for (const key of [
        '',
        '../escape',
        'a/../../b',
        '/absolute',
        'a//b',
        'a/./b',
        'nul\u0000byte',
        'space here',
        'x'.repeat(1025),
      ])
        await expect(store.put(key, Buffer.from('x')), JSON.stringify(key)).rejects.toMatchObject({
          code: 'KAPPA_INVALID_ARGUMENT',
        });
      await expect(store.list('../')).rejects.toMatchObject({ code: 'KAPPA_INVALID_ARGUMENT' });
    });
  });
}
