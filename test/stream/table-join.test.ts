import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import {
  PipelineRunner,
  pipeline,
  readDeadLetter,
  runPipeline,
  TableReader,
  table,
} from '../../src/stream/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { readUntil } from './runners-contract.ts';

interface Order {
  id: number;
  merchant: string;
  amount: number;
}
interface Merchant {
  name: string;
  country: string;
}

const merchants = table<Merchant>('merchants');
const enriched = (type: 'inner' | 'left') =>
  pipeline(`enrich-${type}`)
    .source<Order>('orders')
    .join(
      merchants,
      (o) => {
        if (o.merchant === 'boom') throw new Error('bad merchant id');
        return o.merchant;
      },
      (o, m) => ({ id: o.id, amount: o.amount, country: m?.country ?? null }),
      { type },
    )
    .toTopic('enriched');

describe('stream-table join', () => {
  const rows = [
    { key: 'm1', value: { name: 'One', country: 'NL' } },
    { key: 'm2', value: { name: 'Two', country: 'DE' } },
  ];
  const orders = [
    { value: { id: 1, merchant: 'm1', amount: 10 } },
    { value: { id: 2, merchant: 'm3', amount: 5 } },
    { value: { id: 3, merchant: 'boom', amount: 1 } },
    { value: { id: 4, merchant: 'm2', amount: 7 } },
  ];

  it('inner: joins each element with its row and drops those with none; a throwing key fn is a dead letter', () => {
    const run = runPipeline(enriched('inner'), orders, { tables: { merchants: rows } });
    expect(run.topics.enriched!.map((r) => r.value)).toEqual([
      { id: 1, amount: 10, country: 'NL' },
      { id: 4, amount: 7, country: 'DE' },
    ]);
    expect(run.deadLetters.map((d) => [d.step, d.message])).toEqual([['join-1', 'bad merchant id']]);
  });

  it('left: joins an element without a row with null', () => {
    const run = runPipeline(enriched('left'), orders, { tables: { merchants: rows } });
    expect(run.topics.enriched!.map((r) => r.value)).toEqual([
      { id: 1, amount: 10, country: 'NL' },
      { id: 2, amount: 5, country: null },
      { id: 4, amount: 7, country: 'DE' },
    ]);
  });

  it('refuses a join type it does not know', () => {
    expect(() =>
      pipeline('x')
        .source<Order>('orders')
        .join(
          merchants,
          (o) => o.merchant,
          (o) => o,
          { type: 'outer' as 'left' },
        ),
    ).toThrow(/'inner' or 'left'/);
  });

  describe('on the bus', () => {
    const temp = useTempDir('each', 'kappa-join-');
    let bus: EmbeddedBus | undefined;
    let runner: PipelineRunner | undefined;
    afterEach(async () => {
      await runner?.stop();
      runner = undefined;
      await bus?.close();
      bus = undefined;
    });
    const json = (v: unknown) => Buffer.from(JSON.stringify(v));

    it('reads the table whole before the stream, follows its changes and deletes, and skips rows it cannot read', async () => {
      bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
      await bus.createTopic('orders', { partitions: 2 });
      await bus.createTopic('merchants', { partitions: 3, compacted: true });
      const producer = bus.producer();
      await producer.send([
        { topic: 'merchants', key: json('m1'), value: json({ name: 'One', country: 'NL' }) },
        { topic: 'merchants', key: json('m2'), value: json({ name: 'Two', country: 'DE' }) },
        { topic: 'merchants', key: json('m2'), value: Buffer.from('{not json') },
      ]);
      runner = new PipelineRunner({ bus, pipeline: enriched('left') });
      await runner.start();
      await producer.send([
        { topic: 'orders', partition: 0, value: json({ id: 1, merchant: 'm1', amount: 1 }) },
        { topic: 'orders', partition: 1, value: json({ id: 2, merchant: 'm2', amount: 2 }) },
      ]);
      const first = (await readUntil(bus, 'enriched', 2)).map((r) => JSON.parse(r.value!.toString()));
      // m2's unreadable row left its earlier one in place.
      expect(first.sort((a, b) => a.id - b.id)).toEqual([
        { id: 1, amount: 1, country: 'NL' },
        { id: 2, amount: 2, country: 'DE' },
      ]);
      await producer.send([
        { topic: 'merchants', key: json('m1'), value: json({ name: 'One', country: 'BE' }) },
        { topic: 'merchants', key: json('m2'), value: null },
      ]);
      // The change reaches the join soon: orders after it see it.
      let out: Array<{ id: number; country: string | null }> = [];
      for (let id = 10; id < 200; id++) {
        await producer.send([
          { topic: 'orders', partition: 0, value: json({ id, merchant: 'm1', amount: 0 }) },
          { topic: 'orders', partition: 0, value: json({ id: id + 1000, merchant: 'm2', amount: 0 }) },
        ]);
        out = (await readUntil(bus, 'enriched', 2 + (id - 9) * 2)).map((r) =>
          JSON.parse(r.value!.toString()),
        );
        const seen = (n: number) => out.find((o) => o.id === n);
        if (seen(id)?.country === 'BE' && seen(id + 1000)?.country === null) break;
      }
      const last = out.filter((o) => o.id >= 10).sort((a, b) => a.id - b.id);
      const lastM1 = last.filter((o) => o.id < 1000).at(-1)!;
      const lastM2 = last.filter((o) => o.id >= 1000).at(-1)!;
      expect(lastM1.country).toBe('BE');
      expect(lastM2.country).toBeNull();
      expect((await readUntil(bus, 'dead-letters', 0)).map((r) => readDeadLetter(r))).toEqual([]);
    });

    it('keeps its rows in the data folder, so a restart reads only what the topic gained, and holds only recent rows in memory', async () => {
      bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'bus'), maintenanceInterval: 0 });
      await bus.createTopic('merchants', { partitions: 2, compacted: true });
      const producer = bus.producer();
      const row = (i: number, country = 'NL') => ({ name: `M${i}`, country });
      await producer.send(
        Array.from({ length: 300 }, (_, i) => ({
          topic: 'merchants',
          key: json(`m${i}`),
          value: json(row(i)),
        })),
      );
      const file = path.join(temp.dir, 'state', 'table-merchants.mdb');
      const open = async (at: string) => {
        const reader = new TableReader(bus!, merchants, silentLogger, { file: at, cacheBytes: 5000 });
        await reader.start();
        return reader;
      };
      let reader = await open(file);
      expect(reader.size).toBe(300);
      for (let i = 0; i < 300; i++) expect(reader.get(JSON.stringify(`m${i}`))).toEqual(row(i));
      // A few rows' worth of memory: the rest stay in lmdb until looked up.
      expect(reader.cachedRows).toBeLessThan(40);
      await reader.stop();

      const read = await bus.partitionOffsets('merchants');
      await producer.send([
        { topic: 'merchants', key: json('m0'), value: json(row(0, 'BE')) },
        { topic: 'merchants', key: json('m1'), value: null },
        { topic: 'merchants', key: json('m300'), value: json(row(300)) },
      ]);
      // What the first reader read is gone from the topic: only its store still has those rows.
      await bus.deleteRecords(
        'merchants',
        read.map((r) => ({ partition: r.partition, offset: r.end })),
      );
      reader = await open(file);
      expect(reader.size).toBe(300);
      expect(reader.get(JSON.stringify('m0'))).toEqual(row(0, 'BE'));
      expect(reader.get(JSON.stringify('m1'))).toBeUndefined();
      expect(reader.get(JSON.stringify('m7'))).toEqual(row(7));
      expect(reader.get(JSON.stringify('m300'))).toEqual(row(300));
      await reader.stop();
      // A reader without those rows, from the topic alone, sees only the tail.
      const fresh = await open(path.join(temp.dir, 'state', 'fresh.mdb'));
      expect(fresh.size).toBe(2);
      await fresh.stop();
    });
  });
});
