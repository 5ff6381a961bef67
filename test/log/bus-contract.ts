import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BusClosedError,
  type ConsumedRecord,
  GroupFencedError,
  GroupNotEmptyError,
  InvalidTopicNameError,
  OffsetOutOfRangeError,
  ProducerFencedError,
  partitionForKey,
  RecordTooLargeError,
  TopicExistsError,
  type TopicPartition,
  UnknownPartitionError,
  UnknownTopicError,
} from '../../src/core/index.ts';
import type { Bus, Consumer } from '../../src/log/index.ts';
import { uniqueName } from '../support/temp-dir.ts';

/**
 * The Bus contract suite: every Bus implementation runs these tests unchanged (the embedded log in
 * embedded-bus.test.ts, Kafka in test/kafka/). Each test uses fresh topic and group names, never
 * assumes offsets start at 0 or are contiguous, and waits with bounded long polls, not sleeps.
 */
export interface BusHarness {
  open(): Promise<Bus>;
  /** Close and open again on the same data, or undefined if the implementation cannot. */
  reopen?(bus: Bus): Promise<Bus>;
  cleanup(): Promise<void>;
}

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

/** Polls until `count` records arrived or `polls` long polls came back empty-handed in a row. */
export async function drain(consumer: Consumer, count: number, polls = 20): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  let empty = 0;
  while (out.length < count && empty < polls) {
    const batch = await consumer.poll({ timeoutMs: 500 });
    if (batch.length === 0) empty++;
    else empty = 0;
    out.push(...batch);
  }
  return out;
}

/** The consumer's positions in these partitions, for commit(). */
function positions(c: Consumer, partitions: TopicPartition[]) {
  return partitions.flatMap(({ topic, partition }) => {
    const offset = c.position(topic, partition);
    return offset === undefined ? [] : [{ topic, partition, offset }];
  });
}

export function busContract(name: string, harness: BusHarness): void {
  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    const consumers: Consumer[] = [];
    const consumer = (options: Parameters<Bus['consumer']>[0]): Consumer => {
      const c = bus.consumer(options);
      consumers.push(c);
      return c;
    };

    beforeAll(async () => {
      bus = await harness.open();
    }, 150_000);
    afterEach(async () => {
      for (const c of consumers.splice(0)) await c.close().catch(() => {});
    });
    afterAll(async () => {
      await bus.close();
      await harness.cleanup();
    });

    async function topic(partitions = 1, spec: Record<string, unknown> = {}): Promise<string> {
      const name = uniqueName('t');
      await bus.createTopic(name, { partitions, ...spec });
      return name;
    }

    describe('topics', () => {
      it('creates, lists, describes and deletes topics', async () => {
        const t = await topic(3);
        expect(await bus.listTopics()).toContain(t);
        const description = await bus.describeTopic(t);
        expect(description).toMatchObject({ name: t, partitions: 3, compacted: false, internal: false });
        const ranges = await bus.partitionOffsets(t);
        expect(ranges.map((r) => r.partition)).toEqual([0, 1, 2]);
        for (const r of ranges) expect(r.end).toBe(r.start);
        await bus.deleteTopic(t);
        expect(await bus.listTopics()).not.toContain(t);
        await expect(bus.describeTopic(t)).rejects.toBeInstanceOf(UnknownTopicError);
      });

      it('rejects a duplicate topic, invalid names and unknown topics with typed errors', async () => {
        const t = await topic();
        await expect(bus.createTopic(t, { partitions: 1 })).rejects.toBeInstanceOf(TopicExistsError);
        for (const bad of ['', '.', '..', 'has space', 'a/b', 'x'.repeat(250), 'ünïcode']) {
          await expect(bus.createTopic(bad, { partitions: 1 })).rejects.toBeInstanceOf(InvalidTopicNameError);
        }
        await expect(bus.deleteTopic(uniqueName('missing'))).rejects.toBeInstanceOf(UnknownTopicError);
        await expect(bus.partitionOffsets(uniqueName('missing'))).rejects.toBeInstanceOf(UnknownTopicError);
        await expect(bus.createTopic(uniqueName('t'), { partitions: 0 })).rejects.toMatchObject({
          code: expect.any(String),
        });
      });

      it('describes a compacted topic as compacted', async () => {
        const t = await topic(1, { compacted: true });
        expect((await bus.describeTopic(t)).compacted).toBe(true);
      });
    });

    describe('produce and read', () => {
      it('returns increasing offsets per partition and round-trips records byte for byte', async () => {
        const t = await topic(2);
        const producer = bus.producer();
        const binary = Buffer.from([0, 1, 2, 255, 254, 0]);
        const sent = await producer.send([
          {
            topic: t,
            partition: 0,
            key: Buffer.from('k1'),
            value: Buffer.from('v1'),
            timestamp: 1_700_000_000_000,
          },
          {
            topic: t,
            partition: 0,
            key: null,
            value: binary,
            headers: { trace: Buffer.from('abc'), empty: Buffer.alloc(0) },
          },
          { topic: t, partition: 0, key: Buffer.from('k3'), value: null },
          { topic: t, partition: 1, value: Buffer.from('other') },
        ]);
        expect(sent.map((m) => m.partition)).toEqual([0, 0, 0, 1]);
        expect(sent[1]!.offset).toBeGreaterThan(sent[0]!.offset);
        expect(sent[2]!.offset).toBeGreaterThan(sent[1]!.offset);

        const c = consumer({});
        await c.assign([{ topic: t, partition: 0, offset: sent[0]!.offset }]);
        const records = await drain(c, 3);
        expect(records.map((r) => r.offset)).toEqual(sent.slice(0, 3).map((m) => m.offset));
        expect(records.map((r) => text(r.key))).toEqual(['k1', null, 'k3']);
        expect(records[0]!.value!.equals(Buffer.from('v1'))).toBe(true);
        expect(records[1]!.value!.equals(binary)).toBe(true);
        expect(records[2]!.value).toBeNull();
        expect(records[0]!.timestamp).toBe(1_700_000_000_000);
        expect(text(records[1]!.headers.trace!)).toBe('abc');
        expect(records[1]!.headers.empty!.length).toBe(0);
        expect(records.every((r) => r.topic === t && r.partition === 0)).toBe(true);
      });

      it('places keyed records with murmur2 like Kafka and spreads keyless ones', async () => {
        const t = await topic(6);
        const producer = bus.producer();
        const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
        const sent = await producer.send(
          keys.map((k) => ({ topic: t, key: Buffer.from(k), value: Buffer.from(k) })),
        );
        for (const [i, m] of sent.entries())
          expect(m.partition).toBe(partitionForKey(Buffer.from(keys[i]!), 6));
        const used = new Set<number>();
        for (let i = 0; i < 30; i++) {
          const [m] = await producer.send([{ topic: t, value: Buffer.from('x') }]);
          used.add(m!.partition);
        }
        expect(used.size).toBeGreaterThan(1);
      });

      it('rejects a whole batch with a record over the size limit, appending nothing', async () => {
        const t = await topic(1);
        const producer = bus.producer();
        const before = await bus.partitionOffsets(t);
        await expect(
          producer.send([
            { topic: t, value: Buffer.from('small') },
            { topic: t, value: Buffer.alloc(2 * 1024 * 1024) },
          ]),
        ).rejects.toBeInstanceOf(RecordTooLargeError);
        expect(await bus.partitionOffsets(t)).toEqual(before);
      });

      it('rejects unknown topics and partitions, appending nothing', async () => {
        const t = await topic(2);
        const producer = bus.producer();
        await expect(
          producer.send([{ topic: uniqueName('missing'), value: Buffer.from('x') }]),
        ).rejects.toBeInstanceOf(UnknownTopicError);
        await expect(
          producer.send([
            { topic: t, partition: 0, value: Buffer.from('ok') },
            { topic: t, partition: 7, value: Buffer.from('x') },
          ]),
        ).rejects.toBeInstanceOf(UnknownPartitionError);
        expect((await bus.partitionOffsets(t)).every((r) => r.end === r.start)).toBe(true);
      });

      it('honours maxRecords, seeks, and returns at least one record whatever maxBytes', async () => {
        const t = await topic(1);
        const producer = bus.producer();
        const sent: number[] = [];
        for (let i = 0; i < 10; i++) {
          const [m] = await producer.send([{ topic: t, value: Buffer.from(`r${i}`) }]);
          sent.push(m!.offset);
        }
        const c = consumer({});
        await c.assign([{ topic: t, partition: 0, offset: sent[0]! }]);
        const first = await c.poll({ maxRecords: 3, timeoutMs: 2000 });
        expect(first.map((r) => text(r.value))).toEqual(['r0', 'r1', 'r2']);
        expect(c.position(t, 0)).toBe(sent[3]);
        c.seek(t, 0, sent[7]!);
        const tail = await drain(c, 3);
        expect(tail.map((r) => text(r.value))).toEqual(['r7', 'r8', 'r9']);
        c.seek(t, 0, sent[0]!);
        const tiny = await c.poll({ maxBytes: 1, timeoutMs: 2000 });
        expect(tiny.length).toBeGreaterThanOrEqual(1);
        expect(text(tiny[0]!.value)).toBe('r0');
      });

      it('long-polls at the end: a waiting poll returns records appended while it waits', async () => {
        const t = await topic(1);
        const c = consumer({ reset: 'latest' });
        await c.assign([{ topic: t, partition: 0 }]);
        expect(await c.poll({ timeoutMs: 50 })).toEqual([]);
        const waiting = c.poll({ timeoutMs: 10_000 });
        await bus.producer().send([{ topic: t, value: Buffer.from('late') }]);
        const got = await waiting;
        expect(got.map((r) => text(r.value))).toEqual(['late']);
      });

      it('finds offsets by timestamp', async () => {
        const t = await topic(1);
        const producer = bus.producer();
        const base = 1_700_000_000_000; // in the past: Kafka refuses timestamps far in the future
        const sent = await producer.send(
          [0, 10, 20, 30].map((d) => ({
            topic: t,
            value: Buffer.from(String(d)),
            timestamp: base + d * 1000,
          })),
        );
        expect(await bus.offsetsForTime(t, base + 15_000)).toEqual([
          { partition: 0, offset: sent[2]!.offset },
        ]);
        expect(await bus.offsetsForTime(t, new Date(base))).toEqual([
          { partition: 0, offset: sent[0]!.offset },
        ]);
        expect(await bus.offsetsForTime(t, base + 31_000)).toEqual([{ partition: 0, offset: -1 }]);
      });
    });

    describe('consumer groups', () => {
      it('shares partitions between members without overlap; together they read every record once', async () => {
        const t = await topic(4);
        const group = uniqueName('g');
        const producer = bus.producer();
        const values = Array.from({ length: 200 }, (_, i) => `v${i}`);
        await producer.send(values.map((v) => ({ topic: t, key: Buffer.from(v), value: Buffer.from(v) })));
        // Each member commits what it read of the partitions it loses, as the contract asks, so the
        // next owner starts after it: no record is read twice.
        const member = (): Consumer => {
          const c: Consumer = consumer({
            group,
            reset: 'earliest',
            onRevoked: (lost) => c.commit(positions(c, lost)),
          });
          return c;
        };
        const a = member();
        const b = member();
        await a.subscribe([t]);
        await b.subscribe([t]);
        const seen: string[] = [];
        let empty = 0;
        // Kafka moves a partition in two rebalances (cooperative): the first member may read everything
        // before the second rebalance hands the new member its share, so wait for both conditions.
        const owning = () => a.assignment().length + b.assignment().length;
        while ((seen.length < values.length || owning() < 4) && empty < 20) {
          const [ra, rb] = await Promise.all([a.poll({ timeoutMs: 300 }), b.poll({ timeoutMs: 300 })]);
          if (ra.length + rb.length === 0) empty++;
          seen.push(...ra.map((r) => text(r.value)!), ...rb.map((r) => text(r.value)!));
        }
        const key = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;
        const owned = [...a.assignment().map(key), ...b.assignment().map(key)];
        expect(new Set(owned).size).toBe(owned.length);
        expect(owned.length).toBe(4);
        expect(a.assignment().length).toBeGreaterThan(0);
        expect(b.assignment().length).toBeGreaterThan(0);
        expect(seen.sort()).toEqual([...values].sort());
      });

      it('commits offsets, resumes from them, and calls onAssigned and onRevoked', async () => {
        const t = await topic(1);
        const group = uniqueName('g');
        await bus.producer().send([1, 2, 3, 4].map((i) => ({ topic: t, value: Buffer.from(`m${i}`) })));
        const assigned: TopicPartition[][] = [];
        const revoked: TopicPartition[][] = [];
        const first = consumer({
          group,
          reset: 'earliest',
          onAssigned: (tps) => void assigned.push(tps),
          onRevoked: (tps) => void revoked.push(tps),
        });
        await first.subscribe([t]);
        const got = await drain(first, 4);
        expect(got.map((r) => text(r.value))).toEqual(['m1', 'm2', 'm3', 'm4']);
        await first.commit([{ topic: t, partition: 0, offset: got[1]!.offset + 1 }]);
        expect(await bus.committedOffsets(group, t)).toEqual([
          { topic: t, partition: 0, offset: got[1]!.offset + 1 },
        ]);
        await first.close();
        expect(assigned).toEqual([[{ topic: t, partition: 0 }]]);
        expect(revoked).toEqual([[{ topic: t, partition: 0 }]]);

        const second = consumer({ group, reset: 'earliest' });
        await second.subscribe([t]);
        const resumed = await drain(second, 2);
        expect(resumed.map((r) => text(r.value))).toEqual(['m3', 'm4']);
      });

      it("lists groups and their members, and sets a group's offsets only while it has none", async () => {
        const t = await topic(2);
        const group = uniqueName('g');
        await bus
          .producer()
          .send([0, 1, 2, 3, 4, 5].map((i) => ({ topic: t, partition: i % 2, value: Buffer.from(`m${i}`) })));
        const live = consumer({ group, reset: 'earliest' });
        await live.subscribe([t]);
        await drain(live, 6);
        await live.commit();
        expect(await bus.listGroups()).toContain(group);
        expect(await bus.groupMembers(group)).toHaveLength(1);
        const [p0, p1] = await bus.partitionOffsets(t);
        const reset = [
          { topic: t, partition: 0, offset: p0!.start + 1 },
          { topic: t, partition: 1, offset: p1!.start },
        ];
        const refused = await bus.alterOffsets(group, reset).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(GroupNotEmptyError);
        expect(await bus.committedOffsets(group, t)).toEqual([
          { topic: t, partition: 0, offset: p0!.end },
          { topic: t, partition: 1, offset: p1!.end },
        ]);
        await live.close();
        expect(await bus.groupMembers(group)).toEqual([]);
        expect(await bus.groupMembers(uniqueName('never'))).toEqual([]);
        await expect(
          bus.alterOffsets(group, [{ topic: t, partition: 0, offset: p0!.end + 1 }]),
        ).rejects.toBeInstanceOf(OffsetOutOfRangeError);
        await expect(bus.alterOffsets(group, [{ topic: t, partition: 9, offset: 0 }])).rejects.toBeInstanceOf(
          UnknownPartitionError,
        );
        await bus.alterOffsets(group, reset);
        expect(await bus.committedOffsets(group, t)).toEqual(reset);
        const next = consumer({ group, reset: 'latest' });
        await next.subscribe([t]);
        expect((await drain(next, 5)).map((r) => text(r.value)).sort()).toEqual(
          ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].filter((m) => m !== 'm0'),
        );
      });

      it('starts from the earliest or the latest offset when the group has none', async () => {
        const t = await topic(1);
        await bus.producer().send([{ topic: t, value: Buffer.from('old') }]);
        const early = consumer({ group: uniqueName('g'), reset: 'earliest' });
        await early.subscribe([t]);
        expect((await drain(early, 1)).map((r) => text(r.value))).toEqual(['old']);
        const late = consumer({ group: uniqueName('g'), reset: 'latest' });
        await late.subscribe([t]);
        expect(await late.poll({ timeoutMs: 200 })).toEqual([]);
        await bus.producer().send([{ topic: t, value: Buffer.from('new') }]);
        expect((await drain(late, 1)).map((r) => text(r.value))).toEqual(['new']);
      });
    });

    describe('transactions', () => {
      it('makes records on several partitions and group offsets visible together at commit', async () => {
        const t = await topic(3);
        const source = await topic(1);
        const group = uniqueName('g');
        const producer = bus.producer({ transactionalId: uniqueName('tx') });
        const reader = consumer({ reset: 'earliest', isolation: 'read_committed' });
        await reader.assign([0, 1, 2].map((partition) => ({ topic: t, partition })));

        const txn = await producer.beginTransaction();
        await txn.send([0, 1, 2].map((p) => ({ topic: t, partition: p, value: Buffer.from(`p${p}`) })));
        await txn.send([{ topic: t, partition: 1, value: Buffer.from('p1b') }]);
        await txn.sendOffsets(group, [{ topic: source, partition: 0, offset: 42 }]);
        expect(await reader.poll({ timeoutMs: 100 })).toEqual([]);
        expect(await bus.committedOffsets(group)).toEqual([]);
        const written = await txn.commit();

        const got = await drain(reader, 4);
        expect(got.map((r) => text(r.value)).sort()).toEqual(['p0', 'p1', 'p1b', 'p2']);
        // The commit says where each record went, in send order: what a changelog's position is read from.
        const at = new Map(got.map((r) => [text(r.value), `${r.partition}@${r.offset}`]));
        expect(written.map((m) => `${m.partition}@${m.offset}`)).toEqual(
          ['p0', 'p1', 'p2', 'p1b'].map((v) => at.get(v)),
        );
        expect(await bus.committedOffsets(group)).toEqual([{ topic: source, partition: 0, offset: 42 }]);
      });

      it("moves a reader's position up to the end past a transaction's markers", async () => {
        const t = await topic(1);
        const producer = bus.producer({ transactionalId: uniqueName('tx') });
        for (let i = 0; i < 2; i++) {
          const txn = await producer.beginTransaction();
          await txn.send([{ topic: t, value: Buffer.from(`m${i}`) }]);
          await txn.commit();
        }
        const aborted = await producer.beginTransaction();
        await aborted.send([{ topic: t, value: Buffer.from('gone') }]);
        await aborted.abort();
        const [range] = await bus.partitionOffsets(t);
        const reader = consumer({ isolation: 'read_committed' });
        await reader.assign([{ topic: t, partition: 0, offset: range!.start }]);
        expect((await drain(reader, 2)).map((r) => text(r.value))).toEqual(['m0', 'm1']);
        // What a restore waits for: the position reaches the end, whatever markers come last. On
        // Kafka the abort's marker is written a moment after abort() returns, moving the end on.
        const end = async () => (await bus.partitionOffsets(t))[0]!.end;
        const deadline = Date.now() + 10_000;
        let last = await end();
        for (;;) {
          await reader.poll({ timeoutMs: 200 });
          const now = await end();
          if ((reader.position(t, 0) === now && now === last) || Date.now() > deadline) break;
          last = now;
        }
        expect(reader.position(t, 0)).toBe(await end());
        expect(await end()).toBeGreaterThanOrEqual(range!.end);
      });

      it('answers a commit with the offset of every record, in send order, across sends and partitions', async () => {
        const t = await topic(3);
        const producer = bus.producer({ transactionalId: uniqueName('tx') });
        const txn = await producer.beginTransaction();
        const first = [0, 1, 2, 1, 0].map((partition, i) => ({
          topic: t,
          partition,
          value: Buffer.from(`a${i}`),
        }));
        await txn.send(first);
        await txn.send([
          { topic: t, partition: 2, value: Buffer.from('b0') },
          { topic: t, partition: 0, value: Buffer.from('b1') },
        ]);
        const written = await txn.commit();
        expect(written.map((w) => w.partition)).toEqual([0, 1, 2, 1, 0, 2, 0]);
        const reader = consumer({ isolation: 'read_committed', reset: 'earliest' });
        await reader.assign([0, 1, 2].map((partition) => ({ topic: t, partition })));
        const read = new Map(
          (await drain(reader, 7)).map((r) => [`${r.partition}/${r.offset}`, text(r.value)]),
        );
        expect(written.map((w) => read.get(`${w.partition}/${w.offset}`))).toEqual([
          'a0',
          'a1',
          'a2',
          'a3',
          'a4',
          'b0',
          'b1',
        ]);
      });

      it('leaves nothing visible and offsets unchanged after an abort', async () => {
        const t = await topic(2);
        const group = uniqueName('g');
        const producer = bus.producer({ transactionalId: uniqueName('tx') });
        const txn = await producer.beginTransaction();
        await txn.send([{ topic: t, partition: 0, value: Buffer.from('aborted') }]);
        await txn.sendOffsets(group, [{ topic: t, partition: 1, offset: 5 }]);
        await txn.abort();
        const next = await producer.beginTransaction();
        await next.send([{ topic: t, partition: 0, value: Buffer.from('kept') }]);
        await next.commit();
        const reader = consumer({ reset: 'earliest', isolation: 'read_committed' });
        await reader.assign([{ topic: t, partition: 0 }]);
        const got = await drain(reader, 1, 4);
        expect(got.map((r) => text(r.value))).toEqual(['kept']);
        expect(await bus.committedOffsets(group)).toEqual([]);
      });

      it('hides every aborted transaction of one producer from read_committed, read in one go', async () => {
        const t = await topic(1);
        const producer = bus.producer({ transactionalId: uniqueName('tx') });
        const plain = bus.producer();
        const expected: string[] = [];
        for (let i = 0; i < 12; i++) {
          const txn = await producer.beginTransaction();
          await txn.send([{ topic: t, partition: 0, value: Buffer.from(`t${i}`) }]);
          await plain.send([{ topic: t, partition: 0, value: Buffer.from(`p${i}`) }]);
          expected.push(`p${i}`);
          if (i % 3 === 0) {
            await txn.commit();
            expected.push(`t${i}`);
          } else await txn.abort();
        }
        const reader = consumer({ reset: 'earliest', isolation: 'read_committed' });
        await reader.assign([{ topic: t, partition: 0 }]);
        const got = (await drain(reader, expected.length)).map((r) => text(r.value) ?? '');
        expect(got.filter((v) => v.startsWith('t'))).toEqual(expected.filter((v) => v.startsWith('t')));
        expect(got.sort()).toEqual([...expected].sort());
      });

      it('ends an empty transaction, committed or aborted, and begins the next one', async () => {
        const t = await topic(1);
        const producer = bus.producer({ transactionalId: uniqueName('tx') });
        await (await producer.beginTransaction()).abort();
        await (await producer.beginTransaction()).commit();
        const txn = await producer.beginTransaction();
        await txn.send([{ topic: t, partition: 0, value: Buffer.from('after') }]);
        await txn.commit();
        const reader = consumer({ reset: 'earliest', isolation: 'read_committed' });
        await reader.assign([{ topic: t, partition: 0 }]);
        expect((await drain(reader, 1)).map((r) => text(r.value))).toEqual(['after']);
      });

      it("fences a transaction's offsets to the group member that read them", async () => {
        const t = await topic(2);
        const out = await topic(1);
        const group = uniqueName('g');
        await bus
          .producer()
          .send([0, 1].map((p) => ({ topic: t, partition: p, value: Buffer.from(`in${p}`) })));
        const a = consumer({ group, reset: 'earliest' });
        await a.subscribe([t]);
        const read = await drain(a, 2);
        const next = (p: number) => read.find((r) => r.partition === p)!.offset + 1;
        const member = a.groupMetadata();
        expect(member.group).toBe(group);
        const producer = bus.producer({ transactionalId: uniqueName('tx') });
        const current = await producer.beginTransaction();
        await current.send([{ topic: out, value: Buffer.from('current') }]);
        await current.sendOffsets(member, [{ topic: t, partition: 0, offset: next(0) }]);
        await current.commit();
        expect(await bus.committedOffsets(group, t)).toEqual([{ topic: t, partition: 0, offset: next(0) }]);

        // Another member joins: the group rebalances and what `a` read under the old generation is fenced.
        await consumer({ group, reset: 'earliest' }).subscribe([t]);
        const stale = await producer.beginTransaction();
        await stale.send([{ topic: out, value: Buffer.from('stale') }]);
        await expect(
          (async () => {
            await stale.sendOffsets(member, [{ topic: t, partition: 1, offset: next(1) }]);
            await stale.commit();
          })(),
        ).rejects.toBeInstanceOf(GroupFencedError);
        expect(await bus.committedOffsets(group, t)).toEqual([{ topic: t, partition: 0, offset: next(0) }]);
        const reader = consumer({ reset: 'earliest', isolation: 'read_committed' });
        await reader.assign([{ topic: out, partition: 0 }]);
        expect((await drain(reader, 2, 4)).map((r) => text(r.value))).toEqual(['current']);
        // The producer itself is not fenced: its next transaction commits.
        const after = await producer.beginTransaction();
        await after.send([{ topic: out, value: Buffer.from('after') }]);
        await after.commit();
      });

      it('fences the older producer when a new one starts with the same transactional id', async () => {
        const t = await topic(1);
        const id = uniqueName('tx');
        const zombie = bus.producer({ transactionalId: id });
        const txn = await zombie.beginTransaction();
        await txn.send([{ topic: t, value: Buffer.from('zombie') }]);
        // A producer takes over its id when it starts its first transaction (Kafka's initTransactions).
        const successor = bus.producer({ transactionalId: id });
        const own = await successor.beginTransaction();
        await expect(txn.commit()).rejects.toBeInstanceOf(ProducerFencedError);
        await own.send([{ topic: t, value: Buffer.from('successor') }]);
        await own.commit();
        const reader = consumer({ reset: 'earliest' });
        await reader.assign([{ topic: t, partition: 0 }]);
        expect((await drain(reader, 1, 4)).map((r) => text(r.value))).toEqual(['successor']);
      });
    });

    describe('deleting records', () => {
      it('moves a partition start up, reads from there on, and refuses offsets past the end', async () => {
        const t = await topic(2);
        const producer = bus.producer();
        const sent = await producer.send(
          Array.from({ length: 10 }, (_, i) => ({ topic: t, partition: 0, value: Buffer.from(`r${i}`) })),
        );
        const cut = sent[6]!.offset;
        const result = await bus.deleteRecords(t, [{ partition: 0, offset: cut }]);
        expect(result).toEqual([{ partition: 0, offset: cut }]);
        const [p0, p1] = await bus.partitionOffsets(t);
        expect(p0!.start).toBe(cut);
        expect(p1!.start).toBe(p1!.end);
        const reader = consumer({ reset: 'earliest' });
        await reader.assign([{ topic: t, partition: 0 }]);
        const got = await drain(reader, 4);
        expect(got.map((r) => text(r.value))).toEqual(['r6', 'r7', 'r8', 'r9']);
        // Deleting below the start again changes nothing.
        expect(await bus.deleteRecords(t, [{ partition: 0, offset: sent[2]!.offset }])).toEqual([
          { partition: 0, offset: cut },
        ]);
        await expect(
          bus.deleteRecords(t, [{ partition: 0, offset: sent[9]!.offset + 100 }]),
        ).rejects.toBeInstanceOf(OffsetOutOfRangeError);
        await expect(bus.deleteRecords(t, [{ partition: 5, offset: 0 }])).rejects.toBeInstanceOf(
          UnknownPartitionError,
        );
      });

      it('keeps the new start across close and reopen', async (context) => {
        if (!harness.reopen) return context.skip();
        const t = await topic(1);
        const sent = await bus
          .producer()
          .send(Array.from({ length: 5 }, (_, i) => ({ topic: t, value: Buffer.from(`k${i}`) })));
        await bus.deleteRecords(t, [{ partition: 0, offset: sent[3]!.offset }]);
        bus = await harness.reopen(bus);
        expect((await bus.partitionOffsets(t))[0]!.start).toBe(sent[3]!.offset);
      });
    });

    describe('durability', () => {
      it('keeps records and committed offsets across close and reopen', async (context) => {
        if (!harness.reopen) return context.skip();
        const t = await topic(2);
        const group = uniqueName('g');
        const sent = await bus
          .producer()
          .send([0, 1].map((p) => ({ topic: t, partition: p, value: Buffer.from(`d${p}`) })));
        const c = consumer({ group, reset: 'earliest' });
        await c.subscribe([t]);
        await drain(c, 2);
        await c.commit();
        await c.close();
        bus = await harness.reopen(bus);
        const ranges = await bus.partitionOffsets(t);
        expect(ranges.map((r) => r.end)).toEqual(sent.map((m) => m.offset + 1));
        expect((await bus.committedOffsets(group, t)).map((o) => o.offset)).toEqual(
          sent.map((m) => m.offset + 1),
        );
        const next = await bus.producer().send([{ topic: t, partition: 0, value: Buffer.from('after') }]);
        expect(next[0]!.offset).toBeGreaterThan(sent[0]!.offset);
      });
    });

    describe('closing', () => {
      it('rejects every operation after close with BusClosedError', async () => {
        const closing = await harness.open();
        const producer = closing.producer();
        await closing.close();
        await expect(closing.listTopics()).rejects.toBeInstanceOf(BusClosedError);
        await expect(producer.send([{ topic: 'x', value: null }])).rejects.toBeInstanceOf(BusClosedError);
        expect(() => closing.producer()).toThrow(BusClosedError);
      });
    });
  });
}
