import { describe, expect, it } from 'vitest';
import { type ConsumedRecord, ManualClock, partitionForKey } from '../../src/core/index.ts';
import {
  count,
  hopping,
  type Pipeline,
  PipelineTask,
  pipeline,
  planStages,
  runPipeline,
  type Stage,
  session,
  sum,
  type TestInput,
  tumbling,
  UpstreamWatermarks,
} from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';

interface Event {
  k: string;
  ts: number;
  v: number;
}

const windowed = (name: string, assigner: Parameters<ReturnType<typeof keyed>['window']>[0]) =>
  keyed(name)
    .window(assigner)
    .aggregate({ n: count(), total: sum((e: Event) => e.v) })
    .map((w) => ({ k: w.key, start: w.window.start, end: w.window.end, ...w.value }))
    .toTopic('out');
const keyed = (name: string) =>
  pipeline(name)
    .source<Event>('in', { eventTime: (e) => e.ts, maxOutOfOrder: 50 })
    .keyBy((e) => e.k);

describe('stages', () => {
  it('cut a pipeline at each keyBy, and nowhere else', () => {
    const twoLevel = keyed('hot')
      .window(hopping(100, 20))
      .aggregate({ n: count() })
      .keyBy((w) => w.window.start)
      .window(tumbling(20), { name: 'hottest' })
      .aggregate({ n: count() })
      .toTopic('out');
    expect(planStages(twoLevel).map((s) => [s.input, s.from, s.until, s.output])).toEqual([
      ['in', 1, 1, 'kappa-hot-keyBy-1-repartition'],
      ['kappa-hot-keyBy-1-repartition', 2, 3, 'kappa-hot-keyBy-2-repartition'],
      ['kappa-hot-keyBy-2-repartition', 4, null, null],
    ]);
    const stateless = pipeline('stateless')
      .source<Event>('in')
      .filter((e) => e.v > 0)
      .toTopic('out');
    expect(planStages(stateless)).toEqual([
      { index: 0, input: 'in', from: 1, until: null, output: null, sideOf: null },
    ]);
  });

  it('take the minimum of upstream watermarks, wait for upstreams not heard from, and skip idle ones', () => {
    const w = new UpstreamWatermarks(2, [0, 1]);
    expect(w.observe(0, 0, 100, false)).toBe(Number.NEGATIVE_INFINITY);
    w.observe(0, 1, 50, false);
    w.observe(1, 0, 100, false);
    // Partition 1 has not heard from upstream 1 yet.
    expect(w.current).toBe(Number.NEGATIVE_INFINITY);
    expect(w.observe(1, 1, 70, false)).toBe(50);
    expect(w.observe(0, 1, 200, false)).toBe(70);
    // Upstream 1 idle on both partitions: upstream 0's watermark alone counts.
    w.observe(0, 1, 200, true);
    expect(w.observe(1, 1, 70, true)).toBe(100);
    // Never back, also when a restarted upstream repeats an older watermark.
    expect(w.observe(1, 0, 10, false)).toBe(100);
    const restored = new UpstreamWatermarks(2, [0, 1]);
    restored.restore(JSON.parse(JSON.stringify(w.snapshot())));
    expect(restored.current).toBe(100);
  });

  // Stage by stage, with records and watermarks crossing in-memory repartition "topics" in a random
  // interleaving, a pipeline must give what it gives as one task: the distributed shape equals the local one.
  const pipelines: Record<string, Pipeline> = {
    tumbling: windowed('tumbling', tumbling(100)),
    hopping: windowed('hopping', hopping(100, 40)),
    session: windowed('session', session(60)),
    twoLevel: keyed('two-level')
      .window(tumbling(100))
      .aggregate({ n: count() })
      .keyBy((w) => w.window.start)
      .window(tumbling(100), { name: 'per-start' })
      .aggregate({ keys: count(), n: sum((w: { value: { n: number } }) => w.value.n) })
      .map((w) => ({ start: w.key, ...w.value }))
      .toTopic('out'),
  };
  for (const [name, p] of Object.entries(pipelines))
    it(`run ${name} windows in stages as they run in one task (30 seeds)`, () => {
      for (let seed = 1; seed <= 30; seed++) {
        const input = generate(seed);
        const local = runPipeline(p, input).topics.out ?? [];
        const staged = runStaged(p, input, seededRandom(seed * 7919));
        expect({ seed, rows: sorted(staged) }).toEqual({ seed, rows: sorted(local.map((r) => r.value)) });
      }
    });

  it('sends a repartition record that is not one to the dead letters and goes on', () => {
    const p = pipelines.tumbling!;
    const stage = planStages(p)[1]!;
    const letters: string[] = [];
    const out: unknown[] = [];
    const task = new PipelineTask(p, {
      partitions: [0],
      clock: new ManualClock(0),
      stage,
      upstreams: 1,
      output: {
        send: (_t, _k, v) => out.push(JSON.parse(v!.toString())),
        deadLetter: (l) => letters.push(l.reason),
      },
    });
    const record = (value: string | null, key: string | null = '"a"', headers = {}): ConsumedRecord => ({
      topic: stage.input,
      partition: 0,
      offset: 0,
      timestamp: 0,
      key: key === null ? null : Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
      headers,
    });
    task.process(record('{not json'));
    task.process(record('{"value":1}'));
    task.process(record('{"eventTime":5,"value":{"k":"a","ts":5,"v":1}}', null));
    task.process(record('{"eventTime":5,"value":{"k":"a","ts":5,"v":2}}'));
    // A garbled watermark would hold every window back forever: it is a dead letter too.
    task.process(
      record('', null, {
        'kappa.watermark': Buffer.from('soon'),
        'kappa.watermark.upstream': Buffer.from('0'),
      }),
    );
    task.process(
      record('', null, {
        'kappa.watermark': Buffer.from('500'),
        'kappa.watermark.upstream': Buffer.from('0'),
      }),
    );
    expect(out).toEqual([{ k: 'a', start: 0, end: 100, n: 1, total: 2 }]);
    task.endOfInput();
    expect(letters).toEqual(['decode', 'decode', 'decode', 'decode']);
    expect(out).toEqual([{ k: 'a', start: 0, end: 100, n: 1, total: 2 }]);
  });
});

const sorted = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();

/** Events on up to 3 partitions, each delivered at most 50 ms out of order, partitions interleaved at random. */
function generate(seed: number): TestInput[] {
  const random = seededRandom(seed);
  const partitions = 1 + Math.floor(random() * 3);
  const perPartition = Array.from({ length: partitions }, () => {
    let t = Math.floor(random() * 500);
    const events = Array.from({ length: 20 + Math.floor(random() * 60) }, () => {
      t += Math.floor(random() * 40);
      return { k: `k${Math.floor(random() * 5)}`, ts: t, v: Math.floor(random() * 100) };
    });
    return events
      .map((e) => ({ e, at: e.ts + random() * 50 }))
      .sort((a, b) => a.at - b.at)
      .map(({ e }) => e);
  });
  const input: TestInput[] = [];
  const cursors = perPartition.map(() => 0);
  for (;;) {
    const open = cursors.flatMap((c, p) => (c < perPartition[p]!.length ? [p] : []));
    if (open.length === 0) return input;
    const p = open[Math.floor(random() * open.length)]!;
    input.push({ value: perPartition[p]![cursors[p]!++]!, partition: p });
  }
}

/**
 * The runner's protocol in memory: a task per partition in every stage; what a stage writes to its
 * repartition topic goes to the partition murmur2 of its key picks; after each batch, every task's
 * watermark goes to every partition of that topic; partitions are read in a random interleaving.
 */
function runStaged(p: Pipeline, input: TestInput[], random: () => number): unknown[] {
  const stages = planStages(p);
  const partitions = Math.max(...input.map((i) => ('partition' in i ? (i.partition ?? 0) : 0))) + 1;
  const clock = new ManualClock(0);
  const out: unknown[] = [];
  // Per stage: its input topic's partitions, as queues of records not yet read.
  const topics = stages.map(() => Array.from({ length: partitions }, () => [] as ConsumedRecord[]));
  let offset = 0;
  for (const i of input)
    if ('value' in i)
      topics[0]![i.partition ?? 0]!.push(
        consumed(p.source.topic, i.partition ?? 0, offset++, null, Buffer.from(JSON.stringify(i.value)), {}),
      );
  const tasks = stages.map((stage: Stage) =>
    Array.from(
      { length: partitions },
      (_, part) =>
        new PipelineTask(p, {
          partitions: [part],
          clock,
          stage,
          ...(stage.index > 0 ? { upstreams: partitions } : {}),
          output: {
            send: (topic, key, value) => {
              if (topic === 'out') out.push(JSON.parse(value!.toString()));
              else
                topics[stage.index + 1]![partitionForKey(key!, partitions)]!.push(
                  consumed(topic, -1, offset++, key, value!, {}),
                );
            },
            deadLetter: (l) => {
              throw new Error(`unexpected dead letter: ${l.reason} ${l.message}`);
            },
          },
        }),
    ),
  );
  const sentWatermark = tasks.map((ts) => ts.map(() => Number.NEGATIVE_INFINITY));
  for (;;) {
    const readable = topics.flatMap((parts, s) =>
      parts.flatMap((q, part) => (q.length > 0 ? [[s, part] as const] : [])),
    );
    if (readable.length === 0) break;
    const [s, part] = readable[Math.floor(random() * readable.length)]!;
    const batch = topics[s]![part]!.splice(0, 1 + Math.floor(random() * 5));
    const task = tasks[s]![part]!;
    for (const r of batch) task.process({ ...r, partition: part });
    const next = stages[s]!.output;
    if (next !== null && task.watermark > sentWatermark[s]![part]!) {
      sentWatermark[s]![part] = task.watermark;
      for (let q = 0; q < partitions; q++)
        topics[s + 1]![q]!.push(
          consumed(next, q, offset++, null, Buffer.alloc(0), {
            'kappa.watermark': Buffer.from(String(task.watermark)),
            'kappa.watermark.upstream': Buffer.from(String(part)),
            'kappa.watermark.idle': Buffer.from('0'),
          }),
        );
    }
  }
  // End of input: stage by stage, every window fires and what it sends on is read.
  for (let s = 0; s < stages.length; s++) {
    for (const task of tasks[s]!) task.endOfInput();
    for (let part = 0; part < partitions && s + 1 < stages.length; part++)
      for (const r of topics[s + 1]![part]!.splice(0))
        tasks[s + 1]![part]!.process({ ...r, partition: part });
  }
  return out;
}

function consumed(
  topic: string,
  partition: number,
  offset: number,
  key: Buffer | null,
  value: Buffer,
  headers: Record<string, Buffer>,
): ConsumedRecord {
  return { topic, partition, offset, timestamp: 0, key, value, headers };
}
