import { type ConsumedRecord, ManualClock } from '../../core/index.ts';
import type { Pipeline } from '../dsl/pipeline.ts';
import { isTwoInput } from '../dsl/steps.ts';
import type { DeadLetter } from '../runtime/dead-letter.ts';
import { PipelineTask, type TaskOutput } from '../runtime/pipeline-task.ts';
import { json, type Serde } from '../serdes/serde.ts';
import { MemoryStateStore } from '../state/memory-state-store.ts';
import type { StateStore } from '../state/state-store.ts';

/** One input of `runPipeline`: a value (written with the source's serde unless `bytes` is given), or the clock moving. */
export type TestInput =
  | {
      value?: unknown;
      /** Raw bytes instead of `value`'s JSON: to test decoding. */
      bytes?: Buffer;
      key?: string;
      /** The topic it is read from: default the pipeline's source (a join's other source names its own). */
      topic?: string;
      partition?: number;
      /** The record's timestamp (used as event time when the source names none). Default 0. */
      timestamp?: number;
      /** Processing time when the record arrives; the clock never goes back. */
      at?: number;
    }
  | { advanceClock: number };

export interface TestRun {
  /** Per sink topic, the values written, read back with the sink's serde (JSON for others), with their keys. */
  topics: Record<string, Array<{ key: unknown; value: unknown }>>;
  deadLetters: DeadLetter[];
  /** The task's watermark at the end (before end of input). */
  watermark: number;
}

/**
 * Runs a pipeline over an in-memory list of records, without a log, as Quix Streams' `sdf.test()`
 * does: one task owning the given partitions, a clock that moves only as the input says, and (unless
 * `endOfInput: false`) every window fired at the end.
 */
export function runPipeline(
  pipeline: Pipeline,
  input: readonly TestInput[],
  options: {
    partitions?: number;
    clock?: ManualClock;
    endOfInput?: boolean;
    /** Before this input, the task checkpoints and a new one starts from its stores, as after a restart. */
    restoreAt?: number;
    /** The rows of each table the pipeline joins with, by topic. */
    tables?: Record<string, Array<{ key: unknown; value: unknown }>>;
  } = {},
): TestRun {
  const clock = options.clock ?? new ManualClock(0);
  // Each topic's partitions: as many as the input uses, unless given.
  const partitionsOf = (topic: string) =>
    options.partitions ??
    Math.max(
      1,
      ...input.map((i) =>
        'partition' in i && (i.topic ?? pipeline.source.topic) === topic ? (i.partition ?? 0) + 1 : 1,
      ),
    );
  const range = (n: number) => Array.from({ length: n }, (_, p) => p);
  const run: TestRun = { topics: {}, deadLetters: [], watermark: Number.NEGATIVE_INFINITY };
  const newTask = (stores?: Map<string, StateStore>) =>
    new PipelineTask(pipeline, {
      partitions: range(partitionsOf(pipeline.source.topic)),
      sourcePartitions: (topic) => range(partitionsOf(topic)),
      clock,
      output,
      ...(stores ? { stores: (step: string) => stores.get(step) ?? new MemoryStateStore() } : {}),
      tables: (topic) => tables.get(topic) ?? new Map(),
    });
  const tables = new Map(
    Object.entries(options.tables ?? {}).map(([topic, rows]) => [
      topic,
      new Map(rows.map((r) => [JSON.stringify(r.key), r.value] as const)),
    ]),
  );
  const sinks = new Map<string, Serde<unknown>>();
  for (const step of pipeline.steps) if (step.kind === 'toTopic') sinks.set(step.topic, step.serde);
  const output: TaskOutput = {
    send(topic, key, value) {
      (run.topics[topic] ??= []).push({
        key: key === null ? null : JSON.parse(key.toString()),
        value: value === null ? null : (sinks.get(topic) ?? json()).decode(value),
      });
    },
    deadLetter(letter) {
      run.deadLetters.push(letter);
    },
  };
  let task = newTask();
  const offsets = new Map<string, number>();
  const serdes = new Map<string, Serde<unknown>>([[pipeline.source.topic, pipeline.source.serde]]);
  for (const step of pipeline.steps)
    if (isTwoInput(step) && !serdes.has(step.other.source.topic))
      serdes.set(step.other.source.topic, step.other.source.serde);
  for (const [index, item] of input.entries()) {
    if (index === options.restoreAt) {
      task.checkpoint();
      task = newTask(
        new Map([...task.stores].map(([step, store]) => [step, MemoryStateStore.copyOf(store)])),
      );
    }
    if ('advanceClock' in item) {
      clock.advance(item.advanceClock);
      task.tick();
      continue;
    }
    if (item.at !== undefined && item.at > clock.now()) {
      clock.set(item.at);
      task.tick();
    }
    const partition = item.partition ?? 0;
    const topic = item.topic ?? pipeline.source.topic;
    const serde = serdes.get(topic);
    if (serde === undefined) throw new Error(`Pipeline ${pipeline.name} reads no topic ${topic}`);
    const offset = offsets.get(`${topic}/${partition}`) ?? 0;
    offsets.set(`${topic}/${partition}`, offset + 1);
    const record: ConsumedRecord = {
      topic,
      partition,
      offset,
      timestamp: item.timestamp ?? 0,
      key: item.key === undefined ? null : Buffer.from(item.key),
      value: item.bytes ?? (item.value === undefined ? null : serde.encode(item.value)),
      headers: {},
    };
    task.process(record);
  }
  run.watermark = task.watermark;
  if (options.endOfInput ?? true) task.endOfInput();
  return run;
}
