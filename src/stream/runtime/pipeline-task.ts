import {
  type Clock,
  type ConsumedRecord,
  ErrorCodes,
  InvalidArgumentError,
  KappaError,
  RecordTooLargeError,
} from '../../core/index.ts';
import type { Aggregator } from '../aggregates/aggregator.ts';
import type { Pipeline, Windowed } from '../dsl/pipeline.ts';
import type { WindowStep } from '../dsl/steps.ts';
import type { LateRecord, WindowResult } from '../operators/window-operator.ts';
import { type WindowSteps, windowSteps } from '../operators/window-steps.ts';
import { MemoryStateStore } from '../state/memory-state-store.ts';
import { decodeState, encodeState, stateKey } from '../state/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';
import { UpstreamWatermarks } from '../time/upstream-watermarks.ts';
import { NO_WATERMARK, WatermarkTracker } from '../time/watermarks.ts';
import { maxTimestamp } from '../windows/window.ts';
import { type DeadLetter, type DeadLetterReason, describeError, letterValue } from './dead-letter.ts';
import {
  type Repartitioned,
  readableRepartitioned,
  readRepartitioned,
  repartitioned,
} from './repartition-record.ts';
import { type Stage, wholePipeline } from './stages.ts';

/** What a task keeps of its input's watermarks, in its first window step's store. */
interface InputWatermarks {
  /** What the source partitions' watermarks have seen (a stage reading the source). */
  partitions?: Array<[number, number]>;
  /** What the upstream tasks have said (a stage reading a repartition topic). */
  upstreams?: ReturnType<UpstreamWatermarks['snapshot']>;
}

const INPUT_WATERMARKS = stateKey([0, 'input-watermarks']);
const WINDOW_WATERMARK = stateKey([0, 'window-watermark']);

/** Where a task's results go: records for sink and repartition topics, and dead letters. */
export interface TaskOutput {
  send(topic: string, key: Buffer | null, value: Buffer, eventTime: number): void;
  deadLetter(letter: DeadLetter): void;
}

export interface PipelineTaskOptions {
  /** The partitions of the stage's input topic this task owns. */
  partitions: number[];
  clock: Clock;
  output: TaskOutput;
  /** The store of each window step, by step name; default one in memory each. Read when the task starts. */
  stores?: (step: string) => StateStore;
  /** The part of the pipeline to run; default all of it, with keyBy grouping within the task. */
  stage?: Stage;
  /** For a stage reading a repartition topic: how many upstream tasks send it watermarks. */
  upstreams?: number;
  /** The largest output record (key and value) the bus takes; a larger one is a dead letter. Default 1 MiB. */
  maxRecordBytes?: number;
  /** The tables the pipeline joins with, by topic: the current row of a key (its JSON), or undefined. */
  tables?: (topic: string) => TableLookup;
  /**
   * 'now' (default): the windows in the stores are loaded by the constructor. 'later': by the caller,
   * through `loading()`, letting the event loop run between its steps (the runtime does).
   */
  load?: 'now' | 'later';
}

/** The current rows of a table, by record key (JSON text). */
export interface TableLookup {
  get(key: string): unknown;
}

/** What a window's result is when its aggregator's `result()` threw: the window goes to the dead letters. */
class ResultFailed {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** An aggregator whose `result()` may throw, as one that returns ResultFailed instead. */
function guarded(aggregator: Aggregator<unknown, unknown, unknown>): Aggregator<unknown, unknown, unknown> {
  return {
    init: () => aggregator.init(),
    add: (acc, record, ts) => aggregator.add(acc, record, ts),
    merge: (a, b) => aggregator.merge(a, b),
    result: (acc) => {
      try {
        return aggregator.result(acc);
      } catch (error) {
        return new ResultFailed(error);
      }
    },
  };
}

interface Element {
  value: unknown;
  /** Set by keyBy: the key as the user's function returned it. */
  key: unknown;
  keyed: boolean;
  eventTime: number;
}

/** The rest of a pipeline from one step on, compiled. */
type Run = (element: Element) => void;

interface WindowSlot {
  /** The window step's index in the pipeline. */
  step: number;
  op: WindowSteps<unknown, unknown, unknown>;
  store: StateStore;
  watermark: number;
  /** The watermark the store holds. */
  storedWatermark: number;
  emit: (result: WindowResult<unknown, unknown>) => void;
  late: (late: LateRecord<unknown, unknown>) => void;
}

/** A poison record's way out: the step that refused it, and why. */
class Poison {
  readonly step: string;
  readonly reason: DeadLetterReason;
  readonly error: unknown;
  constructor(step: string, reason: DeadLetterReason, error: unknown) {
    this.step = step;
    this.reason = reason;
    this.error = error;
  }
}

/**
 * One task of a pipeline: the source partitions it owns, their watermarks, and the state of its
 * windows. Records go through the steps one at a time, synchronously; a record that cannot be decoded
 * or that makes a user function throw becomes a dead letter and the task goes on.
 */
export class PipelineTask {
  readonly pipeline: Pipeline;
  /** The state of each window step, by step name. */
  readonly stores = new Map<string, StateStore>();
  readonly #clock: Clock;
  readonly #output: TaskOutput;
  readonly stage: Stage;
  /** Watermarks from the source partitions, or from the upstream tasks of a repartition topic. */
  readonly #tracker: WatermarkTracker | null = null;
  readonly #upstream: UpstreamWatermarks | null = null;
  /** The window steps in pipeline order, and the same by step index. */
  readonly #windows: WindowSlot[] = [];
  readonly #windowAt: Array<WindowSlot | undefined> = [];
  /** The source record being processed, for late records' dead letters. */
  #record: ConsumedRecord | null = null;
  /** The steps after the source, and after each window step, compiled. */
  readonly #fromSource: Run;
  readonly #afterWindow: Run[] = [];
  /** The input watermarks the store holds, as JSON. */
  #storedInput = '';
  readonly #maxRecordBytes: number;
  readonly #tables: (topic: string) => TableLookup;

  constructor(pipeline: Pipeline, options: PipelineTaskOptions) {
    this.pipeline = pipeline;
    this.stage = options.stage ?? wholePipeline(pipeline);
    this.#clock = options.clock;
    this.#output = options.output;
    this.#maxRecordBytes = options.maxRecordBytes ?? 1024 * 1024;
    this.#tables =
      options.tables ??
      ((topic) => {
        throw new InvalidArgumentError(
          `Pipeline ${pipeline.name} joins table ${topic}, which this task was not given`,
        );
      });
    const storeOf = options.stores ?? (() => new MemoryStateStore());
    const source = pipeline.source;
    if (this.stage.from === 1)
      this.#tracker = new WatermarkTracker(
        { maxOutOfOrder: source.maxOutOfOrder, idleAfter: source.idleAfter },
        options.partitions,
        this.#clock.now(),
      );
    else {
      if (options.upstreams === undefined)
        throw new InvalidArgumentError(
          'A task reading a repartition topic needs its number of upstream tasks',
        );
      this.#upstream = new UpstreamWatermarks(options.upstreams, options.partitions);
    }
    const end = this.stage.until ?? pipeline.steps.length;
    pipeline.steps.forEach((step, i) => {
      if (step.kind !== 'window' || i < this.stage.from || i >= end) return;
      const store = storeOf(step.name);
      this.stores.set(step.name, store);
      const stored = store.get(WINDOW_WATERMARK);
      const watermark = stored === undefined ? NO_WATERMARK : decodeState<number>(stored);
      const slot: WindowSlot = {
        step: i,
        emit: (result) => this.#emitWindow(i, result),
        late: (late) => this.#late(step, late),
        op: windowSteps({
          name: step.name,
          assigner: step.assigner,
          aggregator: guarded(step.aggregator),
          allowedLateness: step.allowedLateness,
          emit: step.emit,
          store,
        }),
        store,
        watermark,
        storedWatermark: watermark,
      };
      this.#windows.push(slot);
      this.#windowAt[i] = slot;
    });
    this.#restoreInputWatermarks();
    if ((options.load ?? 'now') === 'now') for (const w of this.#windows) w.op.restored();
    this.#fromSource = this.#compile(this.stage.from);
    for (const w of this.#windows) this.#afterWindow[w.step] = this.#compile(w.step + 1);
  }

  /** The input record being processed now (null while window results flow on): what an output comes from. */
  get current(): ConsumedRecord | null {
    return this.#record;
  }

  get watermark(): number {
    if (this.pipeline.source.processingTime) return this.#clock.now() - 1;
    return (this.#tracker ?? this.#upstream)!.current;
  }

  /** Every source partition of the task has gone idle (stages that read the source). */
  get idle(): boolean {
    return this.#tracker?.idle ?? false;
  }

  process(record: ConsumedRecord): void {
    if (this.#upstream !== null) {
      this.#processRepartitioned(record, this.#upstream);
      return;
    }
    const source = this.pipeline.source;
    let element: Element;
    try {
      element = this.#read(record);
    } catch (error) {
      this.#deadLetter(record, error instanceof Poison ? error : new Poison(source.name, 'error', error));
      return;
    }
    this.#run(record, element);
    if (!this.pipeline.source.processingTime)
      this.#advance(this.#tracker!.observe(record.partition, element.eventTime, this.#clock.now()));
  }

  /** A record of a repartition topic: an element keyed upstream, or an upstream task's watermark. */
  #processRepartitioned(record: ConsumedRecord, upstream: UpstreamWatermarks): void {
    let read: Repartitioned;
    try {
      read = readRepartitioned(record);
    } catch (error) {
      this.#deadLetter(record, new Poison(this.pipeline.steps[this.stage.from - 1]!.name, 'decode', error));
      return;
    }
    if (read.kind === 'watermark') {
      this.#advance(upstream.observe(record.partition, read.upstream, read.watermark, read.idle));
      return;
    }
    const eventTime = this.pipeline.source.processingTime ? this.#clock.now() : read.eventTime;
    this.#run(record, { value: read.value, key: read.key, keyed: true, eventTime });
  }

  /** A record's element through the stage's steps; one that a step refuses is a dead letter. */
  #run(record: ConsumedRecord, element: Element): void {
    try {
      this.#record = record;
      this.#fromSource(element);
    } catch (error) {
      if (!(error instanceof Poison)) throw error;
      this.#deadLetter(record, error, element.eventTime);
    }
  }

  /** Processing time moved on: idle partitions may release the watermark. */
  tick(): void {
    const now = this.#clock.now();
    for (const w of this.#windows) w.op.onProcessingTime(now, w.emit);
    // In processing time the clock is the watermark: windows close when their end has passed.
    if (this.pipeline.source.processingTime) this.#advance(now - 1);
    else if (this.#tracker !== null) this.#advance(this.#tracker.tick(now));
  }

  /** The input has ended (a bounded run, such as a test): every window fires. */
  endOfInput(): void {
    this.#advance(Number.POSITIVE_INFINITY);
  }

  /** Loads the windows in the stores, a chunk per step (with `load: 'later'`). */
  *loading(): Generator<void> {
    for (const w of this.#windows) yield* w.op.loading();
  }

  /**
   * Writes what changed since the last checkpoint into the stores, as pending writes: windows,
   * their watermarks, the input's watermarks. The runner sends the stores' changes to their
   * changelogs in the transaction that commits the input offsets, and commits the stores after it.
   */
  checkpoint(): void {
    for (const w of this.#windows) {
      w.op.flush();
      if (w.watermark !== w.storedWatermark) {
        w.store.put(WINDOW_WATERMARK, encodeState(w.watermark));
        w.storedWatermark = w.watermark;
      }
    }
    const first = this.#windows[0];
    if (first === undefined) return;
    const input: InputWatermarks = this.#tracker
      ? { partitions: this.#tracker.snapshot() }
      : { upstreams: this.#upstream!.snapshot() };
    const json = JSON.stringify(input);
    if (json === this.#storedInput) return;
    first.store.put(INPUT_WATERMARKS, encodeState(input));
    this.#storedInput = json;
  }

  /** Where the input's watermarks were at the last checkpoint the first window step's store holds. */
  #restoreInputWatermarks(): void {
    const stored = this.#windows[0]?.store.get(INPUT_WATERMARKS);
    if (stored === undefined) return;
    const input = decodeState<InputWatermarks>(stored);
    this.#storedInput = JSON.stringify(input);
    if (input.partitions) this.#tracker?.restore(input.partitions, this.#clock.now());
    if (input.upstreams) this.#upstream?.restore(input.upstreams);
  }

  #read(record: ConsumedRecord): Element {
    const source = this.pipeline.source;
    let value: unknown;
    try {
      if (record.value === null) throw new Error('The record has no value');
      value = source.serde.decode(record.value);
    } catch (error) {
      throw new Poison(source.name, 'decode', error);
    }
    if (source.processingTime) return { value, key: null, keyed: false, eventTime: this.#clock.now() };
    let eventTime: number;
    try {
      const t = source.eventTime ? source.eventTime(value) : record.timestamp;
      eventTime = t instanceof Date ? t.getTime() : t;
    } catch (error) {
      throw new Poison(source.name, 'error', error);
    }
    if (typeof eventTime !== 'number' || !Number.isFinite(eventTime))
      throw new Poison(
        source.name,
        'error',
        new TypeError(`The event time is ${JSON.stringify(eventTime)}, not a time in ms`),
      );
    return { value, key: null, keyed: false, eventTime };
  }

  /**
   * The steps from `from` on as one function per step, each calling the next: built once, so each
   * call site sees one step's function and the per-record path dispatches on nothing. A user function
   * that throws is wrapped as Poison naming its step; Poison from further down passes through.
   */
  #compile(from: number): Run {
    const steps = this.pipeline.steps;
    const step = steps[from];
    if (step === undefined || step.kind === 'source') return () => {};
    const name = step.name;
    const poison = (error: unknown) => new Poison(name, 'error', error);
    switch (step.kind) {
      case 'map': {
        const { fn } = step;
        const next = this.#compile(from + 1);
        return (element) => {
          try {
            element.value = fn(element.value);
          } catch (error) {
            throw poison(error);
          }
          next(element);
        };
      }
      case 'filter': {
        const { fn } = step;
        const next = this.#compile(from + 1);
        return (element) => {
          let keep: boolean;
          try {
            keep = fn(element.value);
          } catch (error) {
            throw poison(error);
          }
          if (keep) next(element);
        };
      }
      case 'flatMap': {
        const { fn } = step;
        const next = this.#compile(from + 1);
        return (element) => {
          let values: unknown[];
          try {
            values = [...fn(element.value)];
          } catch (error) {
            throw poison(error);
          }
          for (const value of values) next({ ...element, value });
        };
      }
      case 'keyBy': {
        const { fn } = step;
        const next = from === this.stage.until ? this.#repartition() : this.#compile(from + 1);
        return (element) => {
          let key: unknown;
          try {
            key = fn(element.value);
          } catch (error) {
            throw poison(error);
          }
          if (key === undefined || (typeof key === 'number' && !Number.isFinite(key)))
            throw poison(new TypeError(`keyBy returned ${String(key)}: a key must be JSON`));
          element.key = key;
          element.keyed = true;
          next(element);
        };
      }
      case 'window': {
        const w = this.#windowAt[from]!;
        const clock = this.#clock;
        // Only the updates and early emit modes look at processing time per record.
        const timed = step.emit.mode !== 'final';
        return (element) => {
          try {
            w.op.process(
              element.value,
              element.key,
              element.eventTime,
              w.watermark,
              w.emit,
              w.late,
              timed ? clock.now() : 0,
            );
          } catch (error) {
            throw error instanceof Poison ? error : poison(error);
          }
        };
      }
      case 'join': {
        const { key: keyOf, join, type } = step;
        const rows = this.#tables(step.table.topic);
        const next = this.#compile(from + 1);
        return (element) => {
          let out: unknown;
          try {
            const key = keyOf(element.value);
            const row = key === undefined ? undefined : rows.get(JSON.stringify(key));
            if (row === undefined && type === 'inner') return;
            out = join(element.value, row ?? null);
          } catch (error) {
            throw poison(error);
          }
          element.value = out;
          next(element);
        };
      }
      case 'toTopic': {
        const { topic, serde } = step;
        const output = this.#output;
        return (element) => {
          let value: Buffer;
          let key: Buffer | null;
          try {
            value = serde.encode(element.value);
            key = element.keyed ? Buffer.from(JSON.stringify(element.key)) : null;
          } catch (error) {
            throw poison(error);
          }
          this.#checkSize(name, key, value);
          output.send(topic, key, value, element.eventTime);
        };
      }
    }
  }

  /** The end of a stage cut at a keyBy: each element goes on to the repartition topic, by its key. */
  #repartition(): Run {
    const topic = this.stage.output!;
    const output = this.#output;
    const name = this.pipeline.steps[this.stage.until!]!.name;
    return (element) => {
      const { key, value } = repartitioned(element.key, element.value, element.eventTime);
      this.#checkSize(name, key, value);
      output.send(topic, key, value, element.eventTime);
    };
  }

  /** An output record the bus would refuse is refused here, as a dead letter, so the stage goes on. */
  #checkSize(step: string, key: Buffer | null, value: Buffer): void {
    const size = (key?.length ?? 0) + value.length;
    if (size > this.#maxRecordBytes)
      throw new Poison(step, 'error', new RecordTooLargeError(size, this.#maxRecordBytes, 'output record'));
  }

  /**
   * Where a record too late for every window goes: the late topic, as the element the window saw
   * (its key and value as JSON: after a keyBy the source record's own bytes are no longer at hand),
   * or the dead letters with reason late.
   */
  #late(step: WindowStep, late: LateRecord<unknown, unknown>): void {
    const record = this.#record;
    if (step.lateTopic !== null) {
      this.#output.send(
        step.lateTopic,
        Buffer.from(JSON.stringify(late.key)),
        Buffer.from(JSON.stringify(late.record)),
        late.eventTime,
      );
      return;
    }
    const poison = new Poison(
      step.name,
      'late',
      new LateRecordError(late.eventTime, late.watermark, step.allowedLateness),
    );
    // An earlier window's result (an update within its lateness) too late for this window.
    if (record === null) this.#resultLetter(poison, late.key, late.record, late.eventTime);
    else this.#deadLetter(record, poison, late.eventTime);
  }

  #emitWindow(i: number, result: Windowed<unknown, unknown>): void {
    if (result.value instanceof ResultFailed) {
      const { key, window } = result;
      this.#resultLetter(
        new Poison(this.pipeline.steps[i]!.name, 'error', result.value.error),
        key,
        { key, window },
        maxTimestamp(window),
      );
      return;
    }
    const out: Element = {
      value: result,
      key: result.key,
      keyed: true,
      eventTime: maxTimestamp(result.window),
    };
    const record = this.#record;
    try {
      this.#record = null;
      this.#afterWindow[i]!(out);
    } catch (error) {
      if (!(error instanceof Poison)) throw error;
      this.#resultLetter(error, result.key, result, out.eventTime);
    } finally {
      this.#record = record;
    }
  }

  /** A window's result, not a source record, failed or came too late downstream: the letter carries the result. */
  #resultLetter(poison: Poison, key: unknown, value: unknown, eventTime: number): void {
    this.#output.deadLetter({
      kind: 'result',
      ...letterValue(Buffer.from(JSON.stringify(value) ?? 'null')),
      reason: poison.reason,
      pipeline: this.pipeline.name,
      step: poison.step,
      ...describeError(poison.error),
      topic: this.pipeline.source.topic,
      partition: -1,
      offset: -1,
      key: Buffer.from(JSON.stringify(key)),
      eventTime,
    });
  }

  /** Fires windows step by step: results of one reach the next before its own watermark moves. */
  #advance(watermark: number): void {
    for (const w of this.#windows) {
      if (watermark <= w.watermark) continue;
      w.op.onWatermark(watermark, w.emit);
      w.watermark = watermark;
    }
  }

  #deadLetter(record: ConsumedRecord, poison: Poison, eventTime?: number): void {
    this.#output.deadLetter({
      kind: 'record',
      reason: poison.reason,
      pipeline: this.pipeline.name,
      step: poison.step,
      ...describeError(poison.error),
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      // After a cut, the element as JSON rather than the runtime's binary envelope.
      value: this.#upstream === null ? record.value : readableRepartitioned(record),
      headers: record.headers,
      ...(eventTime === undefined ? {} : { eventTime }),
    });
  }
}

/** A record later than its windows' allowed lateness: it goes to the late output. */
export class LateRecordError extends KappaError {
  constructor(eventTime: number, watermark: number, allowedLateness: number) {
    super(
      ErrorCodes.RECORD_LATE,
      'data',
      `Event time ${new Date(eventTime).toISOString()} is behind the watermark ${new Date(watermark).toISOString()} by more than the allowed lateness (${allowedLateness} ms)`,
    );
  }
}
