import { type Clock, type ConsumedRecord, InvalidArgumentError } from '../../core/index.ts';
import type { Pipeline, Windowed } from '../dsl/pipeline.ts';
import { isStateful, isTwoInput, type SourceStep, type StatefulStep } from '../dsl/steps.ts';
import { IntervalJoinOperator } from '../operators/interval-join-operator.ts';
import {
  type Control,
  control,
  type Joined,
  type Operator,
  type OperatorContext,
  type OperatorInput,
} from '../operators/operator.ts';
import { WindowJoinOperator } from '../operators/window-join-operator.ts';
import { windowOperator } from '../operators/window-steps.ts';
import type { Serde } from '../serdes/serde.ts';
import { MemoryStateStore } from '../state/memory-state-store.ts';
import { decodeState, encodeState, stateKey } from '../state/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';
import { UpstreamWatermarks } from '../time/upstream-watermarks.ts';
import { NO_WATERMARK, WatermarkTracker } from '../time/watermarks.ts';
import { maxTimestamp } from '../windows/window.ts';
import { type DeadLetter, describeError, letterValue } from './dead-letter.ts';
import { InputWatermarks } from './input-watermarks.ts';
import { type Repartitioned, readableRepartitioned, readRepartitioned } from './repartition-record.ts';
import { type Stage, wholePipeline } from './stages.ts';
import { type Element, type OperatorSlot, type Run, StepCompiler } from './step-compiler.ts';
import type { StepCounter } from './step-counter.ts';
import { guarded, guardedJoin, LateRecordError, Poison, ResultFailed } from './task-failures.ts';

const WINDOW_WATERMARK = stateKey([0, 'window-watermark']);

/** Where a task's results go: records for sink and repartition topics, and dead letters. */
export interface TaskOutput {
  /** `value` null: a tombstone (a view row that is gone). */
  send(topic: string, key: Buffer | null, value: Buffer | null, eventTime: number): void;
  deadLetter(letter: DeadLetter): void;
}

/**
 * Where the elements of a task ending in a cut go when the next stage runs in the same loop (see
 * StageRunner's local exchange): straight to that stage's task, not through the repartition topic.
 */
export type Exchange = (key: unknown, value: unknown, eventTime: number, side: 0 | 1) => void;

export interface PipelineTaskOptions {
  /** The partitions of the stage's input topic this task owns. */
  partitions: number[];
  /** A whole pipeline that joins: the partitions of each other source; default the same as `partitions`. */
  sourcePartitions?: (topic: string) => number[];
  clock: Clock;
  output: TaskOutput;
  /** The store of each stateful step (windows, joins), by step name; default one in memory each. Read when the task starts. */
  stores?: (step: string) => StateStore;
  /** The part of the pipeline to run; default all of it, with keyBy grouping within the task. */
  stage?: Stage;
  /** For a stage reading a repartition topic: how many upstream tasks send it watermarks. */
  upstreams?: number;
  /** For a stage ending in a cut: its elements go here instead of to the repartition topic. */
  exchange?: Exchange;
  /**
   * Memory for the task's windows and joins (estimated bytes, shared by its stateful
   * steps): past it, state unchanged since the last checkpoint leaves memory and is read back from
   * the stores when needed. Default unbounded (a store in memory gains nothing by it).
   */
  cacheBytes?: number;
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

/** A source the task reads (a whole pipeline that joins reads several): its step, watermarks and compiled steps. */
interface Source {
  step: SourceStep;
  tracker: WatermarkTracker;
  run: Run;
}

const CHECKPOINT: Control = { kind: 'checkpoint' };
const STOP: Control = { kind: 'stop' };

/**
 * One task of a pipeline: the source partitions it owns, their watermarks, and the state of its
 * windows. Records go through the steps one at a time, synchronously; a record that cannot be decoded
 * or that makes a user function throw becomes a dead letter and the task goes on.
 */
export class PipelineTask {
  readonly pipeline: Pipeline;
  /** The state of each stateful step (windows, joins), by step name. */
  readonly stores = new Map<string, StateStore>();
  readonly #clock: Clock;
  readonly #output: TaskOutput;
  readonly stage: Stage;
  /** The sources read (a stage reading the source), or the upstream tasks of a repartition topic. */
  readonly #sources: Source[] = [];
  readonly #upstream: UpstreamWatermarks | null = null;
  readonly #input: InputWatermarks;
  /** The stateful steps in pipeline order, and the same by step index. */
  readonly #operators: OperatorSlot[] = [];
  readonly #operatorAt: Array<OperatorSlot | undefined> = [];
  /** The source record being processed, for late records' dead letters. */
  #record: ConsumedRecord | null = null;
  /** The steps after each stateful step, compiled. */
  readonly #after: Run[] = [];
  /** The steps from the stage's first one, for records of a repartition topic. */
  readonly #fromInput: Run;
  readonly #compiler: StepCompiler;

  constructor(pipeline: Pipeline, options: PipelineTaskOptions) {
    this.pipeline = pipeline;
    this.stage = options.stage ?? wholePipeline(pipeline);
    this.#clock = options.clock;
    this.#output = options.output;
    const storeOf = options.stores ?? (() => new MemoryStateStore());
    if (this.stage.from !== 1) {
      if (options.upstreams === undefined)
        throw new InvalidArgumentError(
          'A task reading a repartition topic needs its number of upstream tasks',
        );
      this.#upstream = new UpstreamWatermarks(options.upstreams, options.partitions);
    }
    const end = this.stage.until ?? pipeline.steps.length;
    const stateful = pipeline.steps.filter((s, i) => isStateful(s) && i >= this.stage.from && i < end).length;
    const cacheBytes = (options.cacheBytes ?? Number.POSITIVE_INFINITY) / Math.max(1, stateful);
    pipeline.steps.forEach((step, i) => {
      if (!isStateful(step) || i < this.stage.from || i >= end) return;
      const store = storeOf(step.name);
      this.stores.set(step.name, store);
      const stored = store.get(WINDOW_WATERMARK);
      const watermark = stored === undefined ? NO_WATERMARK : decodeState<number>(stored);
      const slot: OperatorSlot = {
        step: i,
        op: this.#operator(step, store, cacheBytes),
        ctx: this.#context(i, step),
        store,
        watermark,
        storedWatermark: watermark,
      };
      this.#operators.push(slot);
      this.#operatorAt[i] = slot;
    });
    const steps = pipeline.steps;
    this.#compiler = new StepCompiler({
      pipeline,
      stage: this.stage,
      clock: this.#clock,
      output: this.#output,
      maxRecordBytes: options.maxRecordBytes ?? 1024 * 1024,
      tables:
        options.tables ??
        ((topic) => {
          throw new InvalidArgumentError(
            `Pipeline ${pipeline.name} joins table ${topic}, which this task was not given`,
          );
        }),
      operatorAt: (step) => this.#operatorAt[step]!,
      current: () => this.#record,
      exchange: options.exchange ?? null,
    });
    this.#fromInput = this.#compiler.compile(steps, this.stage.from);
    for (const slot of this.#operators)
      this.#after[slot.step] = this.#compiler.compileAfter(steps, slot.step);
    if (this.#upstream === null) {
      const source = (step: SourceStep, partitions: number[], run: Run) =>
        this.#sources.push({
          step,
          tracker: new WatermarkTracker(
            { maxOutOfOrder: step.maxOutOfOrder, idleAfter: step.idleAfter },
            partitions,
            this.#clock.now(),
          ),
          run,
        });
      source(pipeline.source, options.partitions, this.#fromInput);
      // A whole pipeline runs the other inputs of its joins too, straight into the join as side 1.
      if (this.stage.until === null && this.stage.sideOf === null)
        steps.forEach((step, i) => {
          if (!isTwoInput(step)) return;
          const join = this.#compiler.compile(steps, i);
          const { source: other, steps: sideSteps } = step.other;
          source(
            other,
            options.sourcePartitions?.(other.topic) ?? options.partitions,
            this.#compiler.compile(sideSteps, 0, (element) => {
              element.side = 1;
              join(element);
            }),
          );
        });
    }
    this.#input = new InputWatermarks(this.#upstream ?? this.#sources.map((s) => s.tracker));
    const first = this.#operators[0];
    if (first) this.#input.load(first.store, this.#clock.now());
    if ((options.load ?? 'now') === 'now') for (const _ of this.loading());
  }

  /** The serde of each side's source, for repartition records that carry the source record's bytes. */
  readonly #sourceSerdes = (side: 0 | 1): Serde<unknown> => {
    const join = this.pipeline.steps[this.stage.from];
    return side === 1 && join !== undefined && isTwoInput(join)
      ? join.other.source.serde
      : this.pipeline.source.serde;
  };

  /** What each step has seen since the runner last read (and reset) these. */
  get counts(): Iterable<StepCounter> {
    return this.#compiler.counts.values();
  }

  /** The input record being processed now (null while window results flow on): what an output comes from. */
  get current(): ConsumedRecord | null {
    return this.#record;
  }

  get watermark(): number {
    if (this.pipeline.source.processingTime) return this.#clock.now() - 1;
    return this.#input.current;
  }

  /** Every source partition of the task has gone idle (stages that read the source). */
  get idle(): boolean {
    return this.#input.idle;
  }

  /** `now`: the clock's time, which a caller processing a batch of records may read once for all. */
  process(record: ConsumedRecord, now?: number): void {
    if (this.#upstream !== null) {
      this.#processRepartitioned(record);
      return;
    }
    const sources = this.#sources;
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i]!;
      if (sources.length > 1 && source.step.topic !== record.topic) continue;
      let element: Element;
      try {
        element = this.#read(record, source.step);
      } catch (error) {
        this.#deadLetter(
          record,
          error instanceof Poison ? error : new Poison(source.step.name, 'error', error),
        );
        continue;
      }
      this.#run(record, element, source.run);
      if (!source.step.processingTime) {
        const watermark = source.tracker.observe(
          record.partition,
          element.eventTime,
          now ?? this.#clock.now(),
        );
        this.#advance(sources.length === 1 ? watermark : this.#input.current);
      }
    }
  }

  /** A record of a repartition topic: an element keyed upstream, or an upstream task's watermark. */
  #processRepartitioned(record: ConsumedRecord): void {
    let read: Repartitioned;
    try {
      read = readRepartitioned(record, this.#sourceSerdes);
    } catch (error) {
      this.#deadLetter(record, new Poison(this.pipeline.steps[this.stage.from - 1]!.name, 'decode', error));
      return;
    }
    if (read.kind === 'watermark')
      this.upstreamWatermark(record.partition, read.upstream, read.watermark, read.idle);
    else this.receive(record, read.key, read.value, read.eventTime, read.side);
  }

  /**
   * An element keyed upstream (a task reading a repartition topic): from one of its records, or
   * handed over by the upstream task in the same loop, `record` then being the source record.
   */
  receive(record: ConsumedRecord, key: unknown, value: unknown, eventTime: number, side: 0 | 1): void {
    const time = this.pipeline.source.processingTime ? this.#clock.now() : eventTime;
    this.#run(record, { value, key, keyed: true, eventTime: time, side, now: 0 }, this.#fromInput);
  }

  /** An upstream task's watermark (or idleness) reached one of this task's partitions. */
  upstreamWatermark(partition: number, upstream: number, watermark: number, idle: boolean): void {
    this.#advance(this.#upstream!.observe(partition, upstream, watermark, idle));
  }

  /** A record's element through the stage's steps; one that a step refuses is a dead letter. */
  #run(record: ConsumedRecord, element: Element, run: Run): void {
    try {
      this.#record = record;
      run(element);
    } catch (error) {
      if (!(error instanceof Poison)) throw error;
      this.#deadLetter(record, error, element.eventTime);
    }
  }

  /** Processing time moved on: idle partitions may release the watermark. */
  tick(): void {
    const now = this.#clock.now();
    const tick: Control = { kind: 'tick', now };
    for (const slot of this.#operators) control(slot.op, tick, slot.ctx);
    // In processing time the clock is the watermark: windows close when their end has passed.
    if (this.pipeline.source.processingTime) this.#advance(now - 1);
    else if (this.#upstream === null) this.#advance(this.#input.tick(now));
  }

  /** The input has ended (a bounded run, such as a test): every window fires. */
  endOfInput(): void {
    this.#advance(Number.POSITIVE_INFINITY);
  }

  /** Loads the operators' state from the stores, a chunk per step (with `load: 'later'`). */
  *loading(): Generator<void> {
    for (const slot of this.#operators) if (slot.op.loading) yield* slot.op.loading();
  }

  /** The task is given up: its operators let go of what they hold (the stores are closed by their owner). */
  close(): void {
    for (const slot of this.#operators) control(slot.op, STOP, slot.ctx);
  }

  /**
   * Writes what changed since the last checkpoint into the stores, as pending writes: operator
   * state, their watermarks, the input's watermarks. The runner sends the stores' changes to their
   * changelogs in the transaction that commits the input offsets, and commits the stores after it.
   */
  checkpoint(): void {
    for (const slot of this.#operators) {
      control(slot.op, CHECKPOINT, slot.ctx);
      if (slot.watermark !== slot.storedWatermark) {
        slot.store.put(WINDOW_WATERMARK, encodeState(slot.watermark));
        slot.storedWatermark = slot.watermark;
      }
    }
    const first = this.#operators[0];
    if (first !== undefined) this.#input.save(first.store);
  }

  /** The operator of a stateful step, its user functions guarded so that what throws becomes a dead letter. */
  #operator(step: StatefulStep, store: StateStore, cacheBytes: number): Operator<unknown> {
    switch (step.kind) {
      case 'window':
        return windowOperator({
          name: step.name,
          assigner: step.assigner,
          aggregator: guarded(step.aggregator),
          allowedLateness: step.allowedLateness,
          emit: step.emit,
          store,
          cacheBytes,
        }) as Operator<unknown>;
      case 'intervalJoin':
        return new IntervalJoinOperator({
          lower: step.lower,
          upper: step.upper,
          join: guardedJoin(step.join),
          store,
          cacheBytes,
        }) as Operator<unknown>;
      case 'windowJoin':
        return new WindowJoinOperator({
          assigner: step.assigner,
          join: guardedJoin(step.join),
          store,
          cacheBytes,
        }) as Operator<unknown>;
    }
  }

  /** What a stateful step's operator is handed: where its results and late elements go. */
  #context(i: number, step: StatefulStep): OperatorContext<unknown> {
    const task = this;
    const emit =
      step.kind === 'window'
        ? (result: unknown) => this.#emitWindow(i, result as Windowed<unknown, unknown>)
        : (joined: unknown) => this.#emitJoined(i, joined as Joined);
    return {
      get watermark() {
        return task.#operatorAt[i]!.watermark;
      },
      emit,
      late: (input) =>
        this.#late(
          step,
          step.kind === 'window' ? step.lateTopic : null,
          step.kind === 'window' ? step.allowedLateness : 0,
          input,
          task.#operatorAt[i]!.watermark,
        ),
    };
  }

  #read(record: ConsumedRecord, source: SourceStep): Element {
    let value: unknown;
    try {
      if (record.value === null) throw new Error('The record has no value');
      value = source.serde.decode(record.value);
    } catch (error) {
      throw new Poison(source.name, 'decode', error);
    }
    if (source.processingTime)
      return { value, key: null, keyed: false, eventTime: this.#clock.now(), side: 0, now: 0 };
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
    return { value, key: null, keyed: false, eventTime, side: 0, now: 0 };
  }

  /**
   * Where an element too late for a step goes: the late topic, as the element the step saw (its key
   * and value as JSON: after a keyBy the source record's own bytes are no longer at hand), or the
   * dead letters with reason late.
   */
  #late(
    step: StatefulStep,
    lateTopic: string | null,
    allowedLateness: number,
    late: OperatorInput,
    watermark: number,
  ): void {
    const record = this.#record;
    this.#compiler.counter(step).late++;
    if (lateTopic !== null) {
      this.#output.send(
        lateTopic,
        Buffer.from(JSON.stringify(late.key)),
        Buffer.from(JSON.stringify(late.value)),
        late.eventTime,
      );
      return;
    }
    const poison = new Poison(
      step.name,
      'late',
      new LateRecordError(late.eventTime, watermark, allowedLateness),
    );
    // An earlier window's result (an update within its lateness) too late for this window.
    if (record === null) this.#resultLetter(poison, late.key, late.value, late.eventTime);
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
    this.#flowOn(i, {
      value: result,
      key: result.key,
      keyed: true,
      eventTime: maxTimestamp(result.window),
      side: 0,
      now: 0,
    });
  }

  /**
   * A join's pair flows on under the key it was joined on. A pair that fails (its join function or a
   * step after it threw) is a dead letter of its own, as a window's result is: the elements stay in
   * the join for their other partners. An interval join pairs as a record comes, and its pairs come
   * from that record; a window join pairs at a watermark.
   */
  #emitJoined(i: number, joined: Joined): void {
    if (joined.value instanceof ResultFailed) {
      const poison = new Poison(this.pipeline.steps[i]!.name, 'error', joined.value.error);
      this.#resultLetter(poison, joined.key, { key: joined.key }, joined.eventTime);
      return;
    }
    const out: Element = { ...joined, keyed: true, side: 0, now: 0 };
    this.#flowOn(i, out, this.pipeline.steps[i]!.kind === 'intervalJoin' ? this.#record : null);
  }

  /** A result through the steps after step `i`, made from `record` (null: at a watermark). */
  #flowOn(i: number, out: Element, from: ConsumedRecord | null = null): void {
    const record = this.#record;
    try {
      this.#record = from;
      this.#after[i]!(out);
    } catch (error) {
      if (!(error instanceof Poison)) throw error;
      this.#resultLetter(error, out.key, out.value, out.eventTime);
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

  /** Fires stateful steps in order: results of one reach the next before its own watermark moves. */
  #advance(watermark: number): void {
    for (const slot of this.#operators) {
      if (watermark <= slot.watermark) continue;
      slot.op.onWatermark?.(watermark, slot.ctx);
      slot.watermark = watermark;
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
      // After a cut, the element as JSON rather than the runtime's binary envelope (a source record
      // handed over in the same loop is the record as it was).
      value:
        this.#upstream === null || record.topic !== this.stage.input
          ? record.value
          : readableRepartitioned(record, this.#sourceSerdes),
      headers: record.headers,
      ...(eventTime === undefined ? {} : { eventTime }),
    });
  }
}
