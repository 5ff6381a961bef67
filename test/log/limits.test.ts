import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidTopicNameError } from '../../src/core/index.ts';
import { FileHandles } from '../../src/log/file-handles.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { open, readAll, values } from './log-helpers.ts';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('embedded log limits', () => {
  const temp = useTempDir('each');

  it('keeps open files bounded however many partitions are written and read, and loses nothing', async () => {
    const before = openFds();
    const bus = await open(temp.dir, { maxOpenFiles: 16 });
    await bus.createTopic('wide', { partitions: 150, segmentBytes: 1024 });
    await bus.createTopic('wider', { partitions: 150 });
    const producer = bus.producer();
    for (let round = 0; round < 3; round++)
      await producer.send(
        Array.from({ length: 300 }, (_, i) => ({
          topic: i < 150 ? 'wide' : 'wider',
          partition: i % 150,
          value: Buffer.from(`${round}-${i}`.padEnd(400, '.')),
        })),
      );
    // Segments rolled (1 KiB segments), every partition was written and is read back whole.
    for (const p of [0, 77, 149])
      expect(values(await readAll(bus, 'wide', p)).map((v) => v.split('.')[0])).toEqual([
        '0-' + p,
        '1-' + p,
        '2-' + p,
      ]);
    expect(bus.handles.openCount).toBeLessThanOrEqual(16);
    // Sockets, the journal and the lock are the rest; 300 partitions would be 300+ without the pool.
    expect(openFds() - before).toBeLessThan(40);
    await producer.close();
    await bus.close();

    const reopened = await open(temp.dir, { maxOpenFiles: 16 });
    expect(values(await readAll(reopened, 'wider', 149)).map((v) => v.split('.')[0])).toEqual([
      '0-299',
      '1-299',
      '2-299',
    ]);
    expect(reopened.handles.openCount).toBeLessThanOrEqual(16);
    await reopened.close();
  });

  it('refuses partitions beyond the per-topic and total limits with a typed error, and keeps serving', async () => {
    const bus = await open(temp.dir, { maxPartitions: 300, maxPartitionsPerTopic: 200 });
    await expect(bus.createTopic('huge', { partitions: 201 })).rejects.toMatchObject({
      code: ErrorCodes.LIMIT_EXCEEDED,
    });
    await bus.createTopic('a', { partitions: 200 });
    // 200 + the offsets topic's 1 + 100 would pass 300; concurrent creates share the limit.
    const results = await Promise.allSettled([
      bus.createTopic('b', { partitions: 60 }),
      bus.createTopic('c', { partitions: 60 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({
      reason: { code: ErrorCodes.LIMIT_EXCEEDED, message: expect.stringMatching(/log\.maxPartitions/) },
    });
    // Deleting gives the room back.
    await bus.deleteTopic('a');
    await bus.createTopic('d', { partitions: 200 });
    expect(await bus.listTopics()).toEqual(expect.arrayContaining(['d']));
    await bus.close();
  });

  it('keeps the transaction journal bounded under steady sends that span partitions', async () => {
    const bus = await open(temp.dir, { journalRotateBytes: 4096 });
    await bus.createTopic('spread', { partitions: 3 });
    const producer = bus.producer();
    // Four senders at a time, so there is always a commit in flight: the journal never goes idle.
    await Promise.all(
      Array.from({ length: 4 }, async (_, s) => {
        for (let i = 0; i < 150; i++)
          await producer.send(
            Array.from({ length: 6 }, (_, r) => ({
              topic: 'spread',
              partition: r % 3,
              value: Buffer.from(`${s}-${i}-${r}`.padEnd(200)),
            })),
          );
      }),
    );
    for (let p = 0; p < 3; p++) expect(await readAll(bus, 'spread', p)).toHaveLength(1200);
    await producer.close();
    // Closing waits for the deferred fsyncs and their DONE entries, which drop the full files.
    await bus.close();
    const { readdir, stat } = await import('node:fs/promises');
    const dir = `${temp.dir}/transactions`;
    const files = await readdir(dir);
    let bytes = 0;
    for (const f of files) bytes += (await stat(`${dir}/${f}`)).size;
    expect(files.length).toBeLessThanOrEqual(2);
    expect(bytes).toBeLessThan(64 * 1024); // 600 sends of about 1.3 KB went through it
  });

  it('reserves names starting with __ for its own topics', async () => {
    const bus = await open(temp.dir);
    await expect(bus.createTopic('__evil', { partitions: 1 })).rejects.toBeInstanceOf(InvalidTopicNameError);
    await bus.close();
  });

  it('never closes a descriptor under an fsync in flight', async () => {
    const dir = temp.dir;
    const handles = new FileHandles(1);
    const { writeFileSync } = await import('node:fs');
    const files = ['a', 'b', 'c'].map((n) => ({ file: `${dir}/${n}` }));
    for (const f of files) writeFileSync(f.file, 'x');
    const fdA = handles.fd(files[0]!);
    const syncing = handles.sync(files[0]!);
    handles.fd(files[1]!); // would evict a, but a is pinned
    handles.fd(files[2]!);
    await syncing;
    expect(handles.openCount).toBe(1);
    expect(handles.fd(files[0]!)).toBeTypeOf('number');
    expect(fdA).toBeGreaterThan(2);
  });
});
