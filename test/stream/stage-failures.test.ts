import { afterEach, describe, expect, it } from 'vitest';
import { type Logger, silentLogger } from '../../src/core/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import {
  aggregator,
  count,
  type DeadLetter,
  PipelineRunner,
  pipeline,
  readDeadLetter,
  tumbling,
} from '../../src/stream/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { readUntil } from './runners-contract.ts';

interface Row {
  k: string;
  ts: number;
  size?: number;
}

const row = (r: Row, partition = 0) => ({ topic: 'rows', partition, value: Buffer.from(JSON.stringify(r)) });

/** A stage never wedges: what the bus refuses, or a result that cannot be computed, is a dead letter. */
describe('a pipeline stage under failures', () => {
  const temp = useTempDir('each', 'kappa-stage-failures-');
  let bus: EmbeddedBus | undefined;
  let runner: PipelineRunner | undefined;
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await bus?.close();
    bus = undefined;
  });
  const letters = async (n: number): Promise<DeadLetter[]> =>
    (await readUntil(bus!, 'dead-letters', n)).map((r) => readDeadLetter(r)!);

  it('sends an output too large for the bus to the dead letters, pointing at its input, and goes on', async () => {
    bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0, maxRecordBytes: 4096 });
    await bus.createTopic('rows', { partitions: 1 });
    const blowUp = pipeline('blow-up')
      .source<Row>('rows')
      .map((r) => ({ ...r, pad: 'x'.repeat(r.size ?? 0) }))
      .toTopic('padded');
    runner = new PipelineRunner({ bus, pipeline: blowUp, maxRecordBytes: 4096 });
    await runner.start();
    await bus
      .producer()
      .send([row({ k: 'a', ts: 1 }), row({ k: 'b', ts: 2, size: 10_000 }), row({ k: 'c', ts: 3 })]);
    const out = (await readUntil(bus, 'padded', 2)).map((r) => JSON.parse(r.value!.toString()).k);
    expect(out).toEqual(['a', 'c']);
    const [letter] = await letters(1);
    expect(letter).toMatchObject({
      kind: 'record',
      reason: 'error',
      step: 'toTopic-1',
      errorClass: 'RecordTooLargeError',
      topic: 'rows',
      partition: 0,
      offset: 1,
    });
    expect(JSON.parse(letter!.value!.toString())).toEqual({ k: 'b', ts: 2, size: 10_000 });
  });

  it("sends a window whose aggregator's result() throws to the dead letters, and fires the others", async () => {
    bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    await bus.createTopic('rows', { partitions: 1 });
    const picky = aggregator<Row, number, number>({
      init: () => 0,
      add: (n, r) => (r.k === 'bad' ? n + 1000 : n + 1),
      merge: (a, b) => a + b,
      result: (n) => {
        if (n >= 1000) throw new RangeError('too many');
        return n;
      },
    });
    const windows = pipeline('picky')
      .source<Row>('rows', { eventTime: (r) => r.ts })
      .keyBy((r) => r.k)
      .window(tumbling(100))
      .aggregate({ n: picky, c: count() })
      .map((w) => ({ k: w.key, ...w.value }))
      .toTopic('picked');
    runner = new PipelineRunner({ bus, pipeline: windows });
    await runner.start();
    await bus
      .producer()
      .send([row({ k: 'good', ts: 1 }), row({ k: 'bad', ts: 2 }), row({ k: 'z', ts: 500 })]);
    const out = (await readUntil(bus, 'picked', 1)).map((r) => JSON.parse(r.value!.toString()));
    expect(out).toEqual([{ k: 'good', n: 1, c: 1 }]);
    const [letter] = await letters(1);
    expect(letter).toMatchObject({
      kind: 'result',
      reason: 'error',
      step: 'window-1',
      errorClass: 'RangeError',
      partition: -1,
    });
    expect(JSON.parse(letter!.value!.toString())).toEqual({ key: 'bad', window: { start: 0, end: 100 } });
  });

  it('sends the records for an output topic deleted while it runs to the dead letters, and goes on', async () => {
    bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    await bus.createTopic('rows', { partitions: 1 });
    const copy = pipeline('copy').source<Row>('rows').toTopic('copied');
    runner = new PipelineRunner({ bus, pipeline: copy });
    await runner.start();
    await bus.producer().send([row({ k: 'a', ts: 1 })]);
    expect(await readUntil(bus, 'copied', 1)).toHaveLength(1);
    await bus.deleteTopic('copied');
    await bus.producer().send([row({ k: 'b', ts: 2 }), row({ k: 'c', ts: 3 })]);
    const got = await letters(2);
    expect(got.map((l) => [l.kind, l.errorClass, l.offset, JSON.parse(l.value!.toString()).k])).toEqual([
      ['record', 'UnknownTopicError', 1, 'b'],
      ['record', 'UnknownTopicError', 2, 'c'],
    ]);
  });

  it('commits as soon as held output passes its budget, with the same results', async () => {
    bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    await bus.createTopic('rows', { partitions: 1 });
    const many = pipeline('many')
      .source<Row>('rows', { eventTime: (r) => r.ts })
      .keyBy((r) => r.k)
      .window(tumbling(100))
      .aggregate({ c: count() })
      .map((w) => ({ k: w.key, ...w.value }))
      .toTopic('counted');
    runner = new PipelineRunner({ bus, pipeline: many, maxPendingBytes: 200 });
    await runner.start();
    const input = Array.from({ length: 300 }, (_, i) => row({ k: `k${i % 50}`, ts: i % 90 }));
    await bus.producer().send([...input, row({ k: 'end', ts: 1000 })]);
    const out = (await readUntil(bus, 'counted', 50)).map((r) => JSON.parse(r.value!.toString()));
    expect(out.sort((a, b) => (a.k < b.k ? -1 : 1))).toEqual(
      Array.from({ length: 50 }, (_, i) => ({ k: `k${i}`, c: 6 })).sort((a, b) => (a.k < b.k ? -1 : 1)),
    );
  });

  it('commits after every poll once a transaction was too large for the bus, and writes each output once', async () => {
    bus = await openEmbeddedBus({
      dataDir: temp.dir,
      maintenanceInterval: 0,
      maxTransactionBytes: 1024 * 1024,
    });
    await bus.createTopic('rows', { partitions: 1 });
    const copy = pipeline('copy')
      .source<Row>('rows')
      .map((r) => ({ k: r.k, pad: 'x'.repeat(60) }))
      .toTopic('copied');
    const warnings: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (fields: unknown, message?: string) => void warnings.push(`${message} ${JSON.stringify(fields)}`),
    } as Logger;
    // Every record is read before the first commit (the interval is long, and the first poll that
    // comes back short is the one after the last): about 2 MB in one transaction, twice the bus's limit.
    runner = new PipelineRunner({ bus, pipeline: copy, commitIntervalMs: 600_000, logger });
    const n = 20_000;
    await bus.producer().send(Array.from({ length: n }, (_, i) => row({ k: `k${i}`, ts: i })));
    await runner.start();
    const out = (await readUntil(bus, 'copied', n)).map((r) => JSON.parse(r.value!.toString()).k);
    expect(out.length).toBe(n);
    expect(new Set(out).size).toBe(n);
    expect(warnings.some((w) => w.includes('TransactionTooLargeError'))).toBe(true);
  });
});
