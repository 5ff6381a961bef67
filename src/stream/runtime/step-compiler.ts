import { type Clock, type ConsumedRecord, RecordTooLargeError } from '../../core/index.ts';
import type { Pipeline, Windowed } from '../dsl/pipeline.ts';
import { isTwoInput, type Step } from '../dsl/steps.ts';
import type { Operator, OperatorContext, OperatorInput } from '../operators/operator.ts';
import type { StateStore } from '../state/state-store.ts';
import type { Exchange, TableLookup, TaskOutput } from './pipeline-task.ts';
import { repartitioned } from './repartition-record.ts';
import type { Stage } from './stages.ts';
import { StepCounter } from './step-counter.ts';
import { Poison } from './task-failures.ts';
import { viewRecordKey, viewRecordValue } from './view-record.ts';

/** An element between steps; what a stateful step gets (OperatorInput) is one too. */
export interface Element extends OperatorInput {
  /** Set by keyBy: the key as the user's function returned it. */
  keyed: boolean;
}

/** The rest of a pipeline from one step on, compiled. */
export type Run = (element: Element) => void;

/** A stateful step of the stage: its operator, store and watermark. */
export interface OperatorSlot {
  /** The step's index in the pipeline. */
  step: number;
  op: Operator<unknown>;
  ctx: OperatorContext<unknown>;
  store: StateStore;
  watermark: number;
  /** The watermark the store holds. */
  storedWatermark: number;
}

/** What the compiled steps of a task reach: where output goes, its tables, its stateful steps. */
export interface CompileContext {
  pipeline: Pipeline;
  stage: Stage;
  clock: Clock;
  output: TaskOutput;
  tables: (topic: string) => TableLookup;
  maxRecordBytes: number;
  operatorAt(step: number): OperatorSlot;
  /** The record being processed (its bytes go on unchanged through a cut that only filters). */
  current(): ConsumedRecord | null;
  /** Where the cut's elements go when the next stage runs in the same loop; null: the repartition topic. */
  exchange: Exchange | null;
}

/** Compiles a task's steps into one function per step (PipelineTask's per-record path). */
export class StepCompiler {
  readonly #c: CompileContext;
  /**
   * What each step compiled here saw, by step name. Counted always (an increment per step per
   * element); read and reset by the runner after each poll, and published only if someone listens.
   */
  readonly counts = new Map<string, StepCounter>();
  constructor(context: CompileContext) {
    this.#c = context;
  }

  /** A step's counts: made when it is first compiled, shared by every chain that runs it. */
  counter(step: Step): StepCounter {
    let count = this.counts.get(step.name);
    if (count === undefined) this.counts.set(step.name, (count = new StepCounter(step.name, step.kind)));
    return count;
  }

  /** What follows stateful step `i` of `steps` (its results go there, counted as its out). */
  compileAfter(steps: readonly Step[], i: number): Run {
    return this.#chain(this.counter(steps[i]!), steps, i + 1);
  }

  /**
   * The steps from `from` on, after the step counted by `count`. When they start with a single-input
   * step, that step's in is `count`'s out; otherwise (the chain's end, a join of two inputs) what
   * is handed on is counted as `count`'s out here.
   */
  #chain(count: StepCounter, steps: readonly Step[], from: number, tail: Run = () => {}): Run {
    const next = this.compile(steps, from, tail);
    const step = steps[from];
    if (step === undefined || step.kind === 'source' || isTwoInput(step)) return handOn(count, next);
    count.next = this.counter(step);
    return next;
  }

  /**
   * The steps from `from` on as one function per step, each calling the next (`tail` after the
   * last): built once, so each call site sees one step's function and the per-record path dispatches
   * on nothing. A user function that throws is wrapped as Poison naming its step; Poison from further
   * down passes through.
   */
  compile(steps: readonly Step[], from: number, tail: Run = () => {}): Run {
    const step = steps[from];
    if (step === undefined) return tail;
    if (step.kind === 'source') return () => {};
    const name = step.name;
    const poison = (error: unknown) => new Poison(name, 'error', error);
    const count = this.counter(step);
    switch (step.kind) {
      case 'map': {
        const { fn } = step;
        const next = this.#chain(count, steps, from + 1, tail);
        return (element) => {
          count.in++;
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
        const next = this.#chain(count, steps, from + 1, tail);
        return (element) => {
          count.in++;
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
        const next = this.#chain(count, steps, from + 1, tail);
        return (element) => {
          count.in++;
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
        const next =
          steps === this.#c.pipeline.steps && from === this.#c.stage.until
            ? handOn(count, this.#repartition())
            : this.#chain(count, steps, from + 1, tail);
        return (element) => {
          count.in++;
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
      case 'window':
      case 'intervalJoin':
      case 'windowJoin': {
        const slot = this.#c.operatorAt(from);
        const clock = this.#c.clock;
        // Only the updates and early emit modes look at processing time per record.
        const timed = step.kind === 'window' && step.emit.mode !== 'final';
        // Out: the results that flow on from the operator (see compileAfter).
        return (element) => {
          count.in++;
          element.now = timed ? clock.now() : 0;
          try {
            slot.op.process(element, slot.ctx);
          } catch (error) {
            throw error instanceof Poison ? error : poison(error);
          }
        };
      }
      case 'join': {
        const { key: keyOf, join, type } = step;
        const rows = this.#c.tables(step.table.topic);
        const next = this.#chain(count, steps, from + 1, tail);
        return (element) => {
          count.in++;
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
      case 'toView': {
        const { topic } = step;
        const output = this.#c.output;
        return (element) => {
          count.in++;
          const result = element.value as Windowed<unknown, unknown>;
          let key: Buffer;
          let value: Buffer;
          try {
            key = viewRecordKey(result.key, result.window);
            value = viewRecordValue(result);
          } catch (error) {
            throw poison(error);
          }
          this.#checkSize(name, key, value);
          // A session merged into this one is a row no more: its record is deleted, so the topic,
          // compacted, holds exactly the view's rows.
          for (const gone of result.replaces ?? []) {
            output.send(topic, viewRecordKey(result.key, gone), null, element.eventTime);
            count.out++;
          }
          output.send(topic, key, value, element.eventTime);
          count.out++;
        };
      }
      case 'toTopic': {
        const { topic, serde } = step;
        const output = this.#c.output;
        return (element) => {
          count.in++;
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
          count.out++;
        };
      }
    }
  }

  /** The end of a stage cut at a keyBy: each element goes on to the repartition topic, by its key (and side). */
  #repartition(): Run {
    const topic = this.#c.stage.output!;
    const output = this.#c.output;
    const name = this.#c.pipeline.steps[this.#c.stage.until!]!.name;
    const { stage, pipeline } = this.#c;
    const side = stage.sideOf === null ? 0 : 1;
    const exchange = this.#c.exchange;
    if (exchange !== null) return (element) => exchange(element.key, element.value, element.eventTime, side);
    // Only filters between the source and the cut: the element is the source record's value as read.
    const unchanged =
      stage.from === 1 && pipeline.steps.slice(1, stage.until!).every((s) => s.kind === 'filter');
    return (element) => {
      const source = unchanged ? (this.#c.current()?.value ?? null) : null;
      const { key, value } = repartitioned(element.key, element.value, element.eventTime, side, source);
      this.#checkSize(name, key, value);
      output.send(topic, key, value, element.eventTime);
    };
  }

  /** An output record the bus would refuse is refused here, as a dead letter, so the stage goes on. */
  #checkSize(step: string, key: Buffer | null, value: Buffer): void {
    const size = (key?.length ?? 0) + value.length;
    if (size > this.#c.maxRecordBytes)
      throw new Poison(step, 'error', new RecordTooLargeError(size, this.#c.maxRecordBytes, 'output record'));
  }
}

/** `next`, counting what it is handed as the out of `count`'s step. */
function handOn(count: StepCounter, next: Run): Run {
  return (element) => {
    count.out++;
    next(element);
  };
}
