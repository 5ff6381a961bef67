import { appendFile, open as openFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirLockedError } from '../../src/core/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { open, readAll, values } from './log-helpers.ts';

describe('segments, indexes and recovery', () => {
  const temp = useTempDir('each');

  const partitionDir = () => path.join(temp.dir, 'topics', 't', '0');
  const logFiles = async () => (await readdir(partitionDir())).filter((f) => f.endsWith('.log')).sort();

  async function fill(count: number, batch = 10): Promise<void> {
    const bus = await open(temp.dir);
    await bus.createTopic('t', { partitions: 1, segmentBytes: 4096 });
    const producer = bus.producer();
    for (let i = 0; i < count; i += batch) {
      await producer.send(
        Array.from({ length: batch }, (_, j) => ({
          topic: 't',
          value: Buffer.from(`record-${i + j}`.padEnd(60, '.')),
        })),
      );
    }
    await bus.close();
  }

  it('rolls segments at segmentBytes and reads across them after reopening', async () => {
    await fill(500);
    expect((await logFiles()).length).toBeGreaterThan(5);
    const bus = await open(temp.dir);
    const records = await readAll(bus, 't');
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(records[499]!.value!.toString()).toMatch(/^record-499/);
    const [next] = await bus.producer().send([{ topic: 't', value: Buffer.from('after') }]);
    expect(next!.offset).toBe(500);
    await bus.close();
  });

  it('rebuilds missing or stale indexes', async () => {
    await fill(300);
    for (const f of await readdir(partitionDir()))
      if (f.endsWith('.index')) await rm(path.join(partitionDir(), f));
    const bus = await open(temp.dir);
    expect((await readAll(bus, 't')).length).toBe(300);
    const c = bus.consumer({});
    await c.assign([{ topic: 't', partition: 0, offset: 257 }]);
    expect((await c.poll({ maxRecords: 1, timeoutMs: 0 }))[0]!.value!.toString()).toMatch(/^record-257/);
    await bus.close();
  });

  it('truncates a torn tail on open and keeps every whole batch before it', async () => {
    await fill(100);
    const last = path.join(partitionDir(), (await logFiles()).at(-1)!);
    await rm(path.join(temp.dir, '.clean'));
    await appendFile(last, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
    const bus = await open(temp.dir);
    expect((await readAll(bus, 't')).length).toBe(100);
    const [next] = await bus.producer().send([{ topic: 't', value: Buffer.from('after') }]);
    expect(next!.offset).toBe(100);
    expect(values(await readAll(bus, 't')).at(-1)).toBe('after');
    await bus.close();
  });

  it('cuts off a batch whose CRC does not match, and what follows it', async () => {
    await fill(100);
    const last = path.join(partitionDir(), (await logFiles()).at(-1)!);
    const size = (await stat(last)).size;
    await rm(path.join(temp.dir, '.clean'));
    const handle = await openFile(last, 'r+');
    await handle.write(Buffer.from([0xff]), 0, 1, size - 5); // inside the last batch's records
    await handle.close();
    const bus = await open(temp.dir);
    const records = await readAll(bus, 't');
    expect(records.length).toBe(90); // the last batch of 10 is gone, all before it intact
    expect(records.every((r, i) => r.value!.toString().startsWith(`record-${i}`))).toBe(true);
    await bus.close();
  });

  it('refuses a data directory another live process holds', async () => {
    const bus = await open(temp.dir);
    await expect(open(temp.dir)).rejects.toBeInstanceOf(DataDirLockedError);
    await bus.close();
    const again = await open(temp.dir);
    await again.close();
  });
});
