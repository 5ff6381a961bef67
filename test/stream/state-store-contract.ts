import { afterEach, describe, expect, it } from 'vitest';
import type { StateStore, StoreMeta } from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';

/**
 * The StateStore contract suite: memory and lmdb run it unchanged (state-store.test.ts). `reopen`
 * closes a store and opens it again on the same data, for the implementations that keep any.
 */
export interface StoreHarness {
  open(): Promise<StateStore>;
  reopen?(store: StateStore): Promise<StateStore>;
}

const b = (text: string): Buffer => Buffer.from(text);
const meta = (changelogOffset: number, inputOffset = changelogOffset * 10): StoreMeta => ({
  changelogOffset,
  inputOffset,
});
const texts = (entries: Iterable<[Buffer, Buffer]>): string[] =>
  [...entries].map(([k, v]) => `${k.toString()}=${v.toString()}`);

export function stateStoreContract(name: string, harness: StoreHarness): void {
  describe(`StateStore contract: ${name}`, () => {
    const open: StateStore[] = [];
    const store = async () => {
      const s = await harness.open();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close().catch(() => {});
    });

    it('reads its own pending writes, and hands them out as the last change per key', async () => {
      const s = await store();
      expect(s.get(b('a'))).toBeUndefined();
      s.put(b('a'), b('1'));
      s.put(b('b'), b('2'));
      s.put(b('a'), b('3'));
      s.delete(b('b'));
      expect(s.get(b('a'))?.toString()).toBe('3');
      expect(s.get(b('b'))).toBeUndefined();
      // b came and went since the last commit: nothing committed holds it, so no tombstone.
      expect(s.pendingCount).toBe(1);
      const changes = s.changes().map(([k, v]) => [k.toString(), v?.toString() ?? null]);
      expect(changes).toEqual([['a', '3']]);
      expect(s.meta()).toBeNull();
    });

    it('keeps a tombstone for a committed key written again and deleted, while the commit is written and after', async () => {
      const s = await store();
      s.put(b('a'), b('1'));
      const writing = s.commit(meta(1));
      // Put and deleted while the commit holding a is being written: a must still go.
      s.put(b('a'), b('2'));
      s.delete(b('a'));
      expect(s.changes().map(([k, v]) => [k.toString(), v])).toEqual([['a', null]]);
      await writing;
      s.put(b('a'), b('3'));
      s.delete(b('a'));
      expect(s.changes().map(([k, v]) => [k.toString(), v])).toEqual([['a', null]]);
      await s.commit(meta(2));
      expect(s.get(b('a'))).toBeUndefined();
      expect([...s.range()]).toEqual([]);
    });

    it('scans lazily: writes made while a scan goes on do not change what it hands out', async () => {
      const s = await store();
      for (const k of ['a', 'c', 'e']) s.put(b(k), b('old'));
      await s.commit(meta(1));
      s.put(b('b'), b('pending'));
      s.put(b('e'), b('new'));
      const seen: string[] = [];
      for (const [k, v] of s.range()) {
        seen.push(`${k}=${v}`);
        // Writes in the middle of the scan, before and after where it is.
        s.put(b('d'), b('late'));
        s.delete(b('c'));
        s.put(b('f'), b('late'));
      }
      expect(seen).toEqual(['a=old', 'b=pending', 'c=old', 'e=new']);
      expect([...s.range()].map(([k, v]) => `${k}=${v}`)).toEqual([
        'a=old',
        'b=pending',
        'd=late',
        'e=new',
        'f=late',
      ]);
    });

    it('commits pending writes with their meta; discard drops only what is pending', async () => {
      const s = await store();
      s.put(b('a'), b('1'));
      s.put(b('b'), b('2'));
      await s.commit(meta(5));
      expect(s.changes()).toEqual([]);
      expect(s.meta()).toEqual(meta(5));
      s.put(b('a'), b('changed'));
      s.delete(b('b'));
      s.put(b('c'), b('new'));
      s.discard();
      expect(texts(s.range())).toEqual(['a=1', 'b=2']);
      expect(s.meta()).toEqual(meta(5));
    });

    it('scans in byte order over [from, to), pending writes merged over committed ones', async () => {
      const s = await store();
      for (const k of ['b', 'd', 'f', 'h']) s.put(b(k), b(`${k}0`));
      // Bytes above 0x7f sort after ASCII: byte order, not a locale's.
      s.put(Buffer.from([0xc3, 0xa9]), b('e-acute'));
      await s.commit(meta(1));
      s.put(b('a'), b('new'));
      s.put(b('d'), b('d1'));
      s.delete(b('f'));
      s.put(b('g'), b('new'));
      expect(texts(s.range()).slice(0, 5)).toEqual(['a=new', 'b=b0', 'd=d1', 'g=new', 'h=h0']);
      expect(texts(s.range()).length).toBe(6);
      expect(texts(s.range(b('c'), b('h')))).toEqual(['d=d1', 'g=new']);
      expect(texts(s.range(b('d')))).toEqual([
        'd=d1',
        'g=new',
        'h=h0',
        `${Buffer.from([0xc3, 0xa9])}=e-acute`,
      ]);
      expect(texts(s.range(undefined, b('b')))).toEqual(['a=new']);
      expect(texts(s.range(b('x'), b('y')))).toEqual([]);
    });

    it('orders keys made of big-endian numbers by number', async () => {
      const s = await store();
      const key = (n: number) => {
        const k = Buffer.alloc(8);
        k.writeBigUInt64BE(BigInt(n));
        return k;
      };
      const numbers = [300, 2, 70000, 1, 256, 2 ** 40];
      for (const n of numbers) s.put(key(n), b(String(n)));
      await s.commit(meta(1));
      expect([...s.range()].map(([, v]) => Number(v.toString()))).toEqual([...numbers].sort((x, y) => x - y));
      expect([...s.range(key(256), key(70000))].map(([, v]) => v.toString())).toEqual(['256', '300']);
    });

    it('restores changes straight in with their meta, and refuses to while writes are pending', async () => {
      const s = await store();
      await s.restore(
        [
          [b('a'), b('1')],
          [b('b'), b('2')],
          [b('a'), null],
        ],
        meta(7),
      );
      expect(texts(s.range())).toEqual(['b=2']);
      expect(s.meta()).toEqual(meta(7));
      s.put(b('c'), b('3'));
      await expect(s.restore([[b('d'), b('4')]], meta(8))).rejects.toMatchObject({
        code: 'KAPPA_STATE_STORE',
      });
    });

    it('clears entries and meta', async () => {
      const s = await store();
      s.put(b('a'), b('1'));
      await s.commit(meta(3));
      s.put(b('b'), b('2'));
      await s.clear();
      expect(texts(s.range())).toEqual([]);
      expect(s.meta()).toBeNull();
      expect(s.changes()).toEqual([]);
    });

    // Only for stores that keep anything: memory has nothing to reopen.
    if (harness.reopen)
      it('keeps committed writes and meta across close and reopen, not pending ones', async () => {
        let s = await store();
        s.put(b('a'), b('1'));
        s.put(b('z'), Buffer.alloc(100_000, 7));
        await s.commit(meta(9));
        s.put(b('pending'), b('x'));
        open.pop();
        s = await harness.reopen!(s);
        open.push(s);
        expect(s.meta()).toEqual(meta(9));
        expect(texts(s.range(undefined, b('b')))).toEqual(['a=1']);
        expect(s.get(b('z'))?.equals(Buffer.alloc(100_000, 7))).toBe(true);
        expect(s.get(b('pending'))).toBeUndefined();
      });

    it('agrees with a sorted map over random writes, commits, discards and scans', async () => {
      const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
      console.log(`state store random test (${name}): seed ${seed}`);
      const random = seededRandom(seed);
      const s = await store();
      let committed = new Map<string, string>();
      let pending = new Map<string, string | null>();
      const view = () => {
        const all = new Map(committed);
        for (const [k, v] of pending) v === null ? all.delete(k) : all.set(k, v);
        return all;
      };
      for (let step = 0; step < 2000; step++) {
        const k = `k${Math.floor(random() * 50)
          .toString()
          .padStart(2, '0')}`;
        const r = random();
        if (r < 0.5) {
          const v = `v${step}`;
          s.put(b(k), b(v));
          pending.set(k, v);
        } else if (r < 0.7) {
          s.delete(b(k));
          pending.set(k, null);
        } else if (r < 0.8) {
          await s.commit(meta(step));
          committed = view();
          pending = new Map();
        } else if (r < 0.85) {
          s.discard();
          pending = new Map();
        } else {
          const from = `k${Math.floor(random() * 50)}`;
          const expected = [...view()].filter(([key]) => key >= from).sort(([x], [y]) => (x < y ? -1 : 1));
          expect(texts(s.range(b(from))), `seed ${seed}, step ${step}`).toEqual(
            expected.map(([key, v]) => `${key}=${v}`),
          );
          expect(s.get(b(k))?.toString(), `seed ${seed}, step ${step}`).toBe(view().get(k));
        }
      }
    });
  });
}
