import type { Aggregator, ResultType } from '../aggregates/aggregator.ts';
import type { EmitMode } from '../operators/window-operator.ts';
import type { Serde } from '../serdes/serde.ts';
import type { HoppingWindows, TumblingWindows, WindowAssigner } from '../windows/assigners.ts';
import type { Window } from '../windows/window.ts';

/**
 * A pipeline compiled to a chain of named steps. Names are unique in a pipeline: they label metrics,
 * name state, and say in a dead letter where a record failed.
 */
export type Step =
  | SourceStep
  | { kind: 'map'; name: string; fn: (value: unknown) => unknown }
  | { kind: 'filter'; name: string; fn: (value: unknown) => boolean }
  | { kind: 'flatMap'; name: string; fn: (value: unknown) => Iterable<unknown> }
  | { kind: 'keyBy'; name: string; fn: (value: unknown) => unknown }
  | WindowStep
  | JoinStep
  | IntervalJoinStep
  | WindowJoinStep
  | { kind: 'toTopic'; name: string; topic: string; serde: Serde<unknown> }
  | ViewStep;

/**
 * Ends a pipeline in a view: each window result goes to the view's compacted topic, keyed by (key,
 * window), where a view materializer (serve/) picks it up. See view-record.ts for the record.
 */
export interface ViewStep {
  kind: 'toView';
  name: string;
  /** The view's name, as queries name it. */
  view: string;
  /** The pipeline's version, and the table that holds this version's rows (`<view>__v<version>`). */
  version: number;
  table: string;
  topic: string;
  /** Rows whose window ended longer ago than this (in event time) are dropped; null: kept. */
  retentionMs: number | null;
  /** The window step's result fields and types, the view's columns (null: from the first rows). */
  columns: Record<string, ResultType | null> | null;
}

/** A table: the latest value per key of a compacted topic (or, later, a CDC topic). */
export interface Table<V = unknown> {
  readonly kind: 'table';
  readonly topic: string;
  readonly serde: Serde<V>;
}

/** Enrichment of each element with the row of a table under the key `key` gives (a stream-table join). */
export interface JoinStep {
  kind: 'join';
  name: string;
  table: Table;
  key: (value: unknown) => unknown;
  join: (value: unknown, row: unknown) => unknown;
  /** 'inner': an element whose key has no row is dropped; 'left': it is joined with null. */
  type: 'inner' | 'left';
}

/**
 * The other input of a two-input step: its own source and the steps after it, the last a keyBy
 * (both sides of a join are keyed alike). It runs as a stage of its own, writing into the join's
 * repartition topic beside the first input.
 */
export interface JoinSide {
  source: SourceStep;
  steps: Step[];
}

/** A stream-stream interval join: a right element at r pairs with a left one at l of its key when l + lower ≤ r ≤ l + upper. */
export interface IntervalJoinStep {
  kind: 'intervalJoin';
  name: string;
  other: JoinSide;
  /** ms, or ±Infinity: unbounded. */
  lower: number;
  upper: number;
  join: (left: unknown, right: unknown) => unknown;
}

/** A window join: the left and right elements of a key in the same window, paired when it closes. */
export interface WindowJoinStep {
  kind: 'windowJoin';
  name: string;
  other: JoinSide;
  assigner: TumblingWindows | HoppingWindows;
  join: (left: unknown, right: unknown, window: Window) => unknown;
}

/** A step with keyed state in a store (and a changelog). */
export type StatefulStep = WindowStep | IntervalJoinStep | WindowJoinStep;
export const isStateful = (step: Step): step is StatefulStep =>
  step.kind === 'window' || step.kind === 'intervalJoin' || step.kind === 'windowJoin';

/** A step with a second input. */
export type TwoInputStep = IntervalJoinStep | WindowJoinStep;
export const isTwoInput = (step: Step): step is TwoInputStep =>
  step.kind === 'intervalJoin' || step.kind === 'windowJoin';

export interface SourceStep {
  kind: 'source';
  name: string;
  topic: string;
  serde: Serde<unknown>;
  /** Event time of a value, in epoch ms; by default the record's timestamp. */
  eventTime: ((value: unknown) => number | Date) | null;
  /** Processing time instead: a record's time is when the task reads it, windows close on the clock. */
  processingTime: boolean;
  maxOutOfOrder: number;
  idleAfter: number | null;
  /** Read offsets the log no longer holds from the archive first. */
  fromArchive: boolean;
}

export interface WindowStep {
  kind: 'window';
  name: string;
  assigner: WindowAssigner;
  allowedLateness: number;
  emit: EmitMode;
  aggregator: Aggregator<unknown, unknown, unknown>;
  /** The result's fields and what each holds (null: not declared), for a view's columns; null for a `reduce`. */
  resultTypes: Record<string, ResultType | null> | null;
  /** Where records too late for every window go: the dead-letter topic (reason `late`) unless a topic is named. */
  lateTopic: string | null;
}
