export {
  type AggregateResult,
  type Aggregator,
  type AggregatorSpec,
  combine,
  type ResultType,
} from './aggregates/aggregator.ts';
export { avg, count, countDistinct, first, last, max, min, sum } from './aggregates/basic.ts';
export { aggregator, approxCountDistinct, percentile, topN } from './aggregates/sketches.ts';
export {
  type KeyedStream,
  type Pipeline,
  parseViewTable,
  pipeline,
  type SignedDuration,
  type SourceOptions,
  type Stream,
  table,
  viewTable,
  viewTopic,
  type Windowed,
  type WindowedStream,
  type WindowOptions,
} from './dsl/pipeline.ts';
export {
  type IntervalJoinStep,
  isStateful,
  isTwoInput,
  type JoinSide,
  type JoinStep,
  type SourceStep,
  type StatefulStep,
  type Step,
  type Table,
  type TwoInputStep,
  type ViewStep,
  type WindowJoinStep,
  type WindowStep,
} from './dsl/steps.ts';
export { IntervalJoinOperator } from './operators/interval-join-operator.ts';
export type { Control, Joined, Operator, OperatorContext, OperatorInput } from './operators/operator.ts';
export { SessionWindowOperator } from './operators/session-window-operator.ts';
export { SlicedWindowOperator } from './operators/sliced-window-operator.ts';
export { WindowJoinOperator } from './operators/window-join-operator.ts';
export {
  type LateRecord,
  WindowOperator,
  type WindowOperatorOptions,
  type WindowResult,
} from './operators/window-operator.ts';
export { type WindowSteps, windowSteps } from './operators/window-steps.ts';
export {
  DEAD_LETTER_REASONS,
  type DeadLetter,
  type DeadLetterReason,
  describeError,
  letterValue,
} from './runtime/dead-letter.ts';
export {
  type DeadLetterPage,
  type DeadLetterQuery,
  deadLettersAt,
  MAX_SCANNED_RECORDS,
  readDeadLetters,
  type StoredDeadLetter,
} from './runtime/dead-letter-reader.ts';
export { DLQ_HEADERS, deadLetterRecord, readDeadLetter } from './runtime/dead-letter-record.ts';
export { PipelineRunner, type PipelineRunnerOptions } from './runtime/pipeline-runner.ts';
export { PipelineTask, type PipelineTaskOptions, type TaskOutput } from './runtime/pipeline-task.ts';
export { REPARTITION_HEADERS } from './runtime/repartition-record.ts';
export {
  planStages,
  repartitionTopic,
  type Stage,
  stageGroup,
  stagePipeline,
  statefulSteps,
  upstreamStages,
} from './runtime/stages.ts';
export {
  type CommittedEvent,
  committed,
  type DeadLetteredEvent,
  deadLettered,
  type PolledEvent,
  polled,
  type RestoredEvent,
  restored,
  type StepCount,
} from './runtime/stream-events.ts';
export { TableReader, type TableReaderOptions } from './runtime/table-reader.ts';
export { LateRecordError } from './runtime/task-failures.ts';
export { decodeViewRecord, type ViewRow, ViewRowError } from './runtime/view-record.ts';
export { type ChangeEvent, cdcTable, changes } from './serdes/cdc-serdes.ts';
export { avro, jsonSchema, protobuf } from './serdes/schema-serdes.ts';
export { json, type Serde, type SerdeContext } from './serdes/serde.ts';
export { LmdbTaskState } from './state/lmdb-state-store.ts';
export { MemoryStateStore } from './state/memory-state-store.ts';
export { stateType } from './state/state-codec.ts';
export { StateStoreError } from './state/state-errors.ts';
export type { StateStore, StoreChange, StoreEntry, StoreMeta } from './state/state-store.ts';
export { runPipeline, type TestInput, type TestRun } from './testing/run-pipeline.ts';
export { UpstreamWatermarks } from './time/upstream-watermarks.ts';
export {
  boundedOutOfOrderness,
  NO_WATERMARK,
  type WatermarkStrategy,
  WatermarkTracker,
} from './time/watermarks.ts';
export {
  type HoppingWindows,
  hopping,
  type SessionWindows,
  session,
  type TumblingWindows,
  tumbling,
  type WindowAssigner,
} from './windows/assigners.ts';
export { maxTimestamp, type Window, windowKey } from './windows/window.ts';
