import { type Clock, type ConsumedRecord, ErrorCodes, KappaError } from '../../core/index.ts';
import type { Pipeline, Windowed } from '../dsl/pipeline.ts';
import type { Step, WindowStep } from '../dsl/steps.ts';
import { type LateRecord, WindowOperator, type WindowResult } from '../operators/window-operator.ts';
import { MemoryStateStore, type StateSnapshot, type StateStore } from '../state/state-store.ts';
import { NO_WATERMARK, WatermarkTracker } from '../time/watermarks.ts';
import { maxTimestamp } from '../windows/window.ts';
import { type DeadLetter, type DeadLetterReason, describeError } from './dead-letter.ts';

export interface TaskSnapshot {
  state: StateSnapshot;
  partitions: Array<[number, number]>;
  windows: Array<[number, number]>;
}

/** Where a task's results go: records for sink topics, and dead letters. */
export interface TaskOutput {
  send(topic: string, key: Buffer | null, value: Buffer, eventTime: number): void;
  deadLetter(letter: DeadLetter): void;
}

interface Element {
  value: unknown;
  /** Set by keyBy: the key as the user's function returned it. */
  key: unknown;
  keyed: boolean;
  eventTime: number;
}

interface WindowSlot {
  op: WindowOperator<unknown, unknown, unknown, unknown>;
  watermark: number;
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
  readonly store: StateStore;
  readonly #clock: Clock;
  readonly #output: TaskOutput;
  readonly #tracker: WatermarkTracker;
  readonly #windows = new Map<number, WindowSlot>();
  /** The source record being processed, for late records' dead letters. */
  #record: ConsumedRecord | null = null;

  constructor(
    pipeline: Pipeline,
    options: { partitions: number[]; clock: Clock; output: TaskOutput; store?: StateStore },
  ) {
    this.pipeline = pipeline;
    this.#clock = options.clock;
    this.#output = options.output;
    this.store = options.store ?? new MemoryStateStore();
    const source = pipeline.source;
    this.#tracker = new WatermarkTracker(
      { maxOutOfOrder: source.maxOutOfOrder, idleAfter: source.idleAfter },
      options.partitions,
      this.#clock.now(),
    );
    pipeline.steps.forEach((step, i) => {
      if (step.kind !== 'window') return;
      this.#windows.set(i, {
        emit: (result) => this.#emitWindow(i, result),
        late: (late) => this.#late(step, late),
        op: new WindowOperator({
          name: step.name,
          assigner: step.assigner,
          aggregator: step.aggregator,
          allowedLateness: step.allowedLateness,
          emit: step.emit,
          store: this.store,
        }),
        watermark: NO_WATERMARK,
      });
    });
  }

  get watermark(): number {
    return this.pipeline.source.processingTime ? this.#clock.now() - 1 : this.#tracker.current;
  }

  process(record: ConsumedRecord): void {
    const source = this.pipeline.source;
    let element: Element;
    try {
      element = this.#read(record);
    } catch (error) {
      this.#deadLetter(record, error instanceof Poison ? error : new Poison(source.name, 'error', error));
      return;
    }
    try {
      this.#run(element, 1, record);
    } catch (error) {
      if (!(error instanceof Poison)) throw error;
      this.#deadLetter(record, error, element.eventTime);
    }
    if (!this.pipeline.source.processingTime)
      this.#advance(this.#tracker.observe(record.partition, element.eventTime, this.#clock.now()));
  }

  /** Processing time moved on: idle partitions may release the watermark. */
  tick(): void {
    const now = this.#clock.now();
    for (const [i, w] of this.#windows) w.op.onProcessingTime(now, (result) => this.#emitWindow(i, result));
    // In processing time the clock is the watermark: windows close when their end has passed.
    this.#advance(this.pipeline.source.processingTime ? now - 1 : this.#tracker.tick(now));
  }

  /** The input has ended (a bounded run, such as a test): every window fires. */
  endOfInput(): void {
    this.#advance(Number.POSITIVE_INFINITY);
  }

  /** The task's state for a checkpoint: windows, watermarks. JSON-serializable. */
  snapshot(): TaskSnapshot {
    for (const w of this.#windows.values()) w.op.flush();
    return {
      state: this.store.snapshot(),
      partitions: this.#tracker.snapshot(),
      windows: [...this.#windows].map(([i, w]) => [i, w.watermark]),
    };
  }

  /** Continues from a snapshot, as after a crash. */
  restore(snapshot: TaskSnapshot): void {
    this.store.restore(snapshot.state);
    this.#tracker.restore(snapshot.partitions, this.#clock.now());
    const watermarks = new Map(snapshot.windows);
    for (const [i, w] of this.#windows) {
      w.watermark = watermarks.get(i) ?? NO_WATERMARK;
      w.op.restored();
    }
  }

  #read(record: ConsumedRecord): Element {
    const source = this.pipeline.source;
    let value: unknown;
    try {
      if (record.value === null) throw new Error('The record has no value');
      value = source.decode(record.value);
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

  /** Runs an element through the steps from `from` on. The element is the task's own: steps change it in place. */
  #run(element: Element, from: number, record: ConsumedRecord | null): void {
    const steps = this.pipeline.steps;
    let step: Step = steps[from]!;
    try {
      for (let i = from; i < steps.length; i++) {
        step = steps[i]!;
        switch (step.kind) {
          case 'map':
            element.value = step.fn(element.value);
            break;
          case 'filter':
            if (!step.fn(element.value)) return;
            break;
          case 'flatMap': {
            const values = [...step.fn(element.value)];
            for (const value of values) this.#run({ ...element, value }, i + 1, record);
            return;
          }
          case 'keyBy': {
            const key = step.fn(element.value);
            if (key === undefined || (typeof key === 'number' && !Number.isFinite(key)))
              throw new TypeError(`keyBy returned ${String(key)}: a key must be JSON`);
            element.key = key;
            element.keyed = true;
            break;
          }
          case 'window': {
            const w = this.#windows.get(i)!;
            this.#record = record;
            w.op.process(
              element.value,
              element.key,
              element.eventTime,
              w.watermark,
              w.emit,
              w.late,
              this.#clock.now(),
            );
            return;
          }
          case 'toTopic':
            this.#output.send(
              step.topic,
              element.keyed ? Buffer.from(JSON.stringify(element.key)) : null,
              step.encode(element.value),
              element.eventTime,
            );
            return;
          case 'source':
            return;
        }
      }
    } catch (error) {
      throw error instanceof Poison ? error : new Poison(step.name, 'error', error);
    }
  }

  /** Where a record too late for every window goes: a late topic, or the dead letters with reason late. */
  #late(step: WindowStep, late: LateRecord<unknown, unknown>): void {
    const record = this.#record;
    if (record === null) return;
    if (step.lateTopic !== null)
      this.#output.send(step.lateTopic, record.key, record.value ?? Buffer.alloc(0), late.eventTime);
    else
      this.#deadLetter(
        record,
        new Poison(
          step.name,
          'late',
          new LateRecordError(late.eventTime, late.watermark, step.allowedLateness),
        ),
        late.eventTime,
      );
  }

  #emitWindow(i: number, result: Windowed<unknown, unknown>): void {
    const out: Element = {
      value: result,
      key: result.key,
      keyed: true,
      eventTime: maxTimestamp(result.window),
    };
    try {
      this.#run(out, i + 1, null);
    } catch (error) {
      if (!(error instanceof Poison)) throw error;
      // A window's result, not a source record, failed downstream: the letter carries the result.
      this.#output.deadLetter({
        reason: error.reason,
        pipeline: this.pipeline.name,
        step: error.step,
        ...describeError(error.error),
        topic: this.pipeline.source.topic,
        partition: -1,
        offset: -1,
        key: Buffer.from(JSON.stringify(result.key)),
        value: Buffer.from(JSON.stringify(result)),
        eventTime: out.eventTime,
      });
    }
  }

  /** Fires windows step by step: results of one reach the next before its own watermark moves. */
  #advance(watermark: number): void {
    for (const [i, w] of this.#windows) {
      if (watermark <= w.watermark) continue;
      w.op.onWatermark(watermark, (result) => this.#emitWindow(i, result));
      w.watermark = watermark;
    }
  }

  #deadLetter(record: ConsumedRecord, poison: Poison, eventTime?: number): void {
    this.#output.deadLetter({
      reason: poison.reason,
      pipeline: this.pipeline.name,
      step: poison.step,
      ...describeError(poison.error),
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      value: record.value,
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
