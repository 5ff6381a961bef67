import { channel } from '../../core/index.ts';

/** What one step of a pipeline saw: elements in, elements (or records, for a sink) out, elements too late. */
export interface StepCount {
  step: string;
  kind: string;
  in: number;
  out: number;
  late: number;
}

/** After each poll of a stage: the records read, what each step did with them, and the stage's watermark. */
export interface PolledEvent {
  pipeline: string;
  stage: number;
  records: number;
  /** Counts since the last event, by step (steps that saw nothing may be left out). */
  steps: StepCount[];
  /** The lowest watermark of the stage's tasks, ms; null while none has one. */
  watermark: number | null;
}

export interface DeadLetteredEvent {
  pipeline: string;
  step: string;
  reason: string;
  count: number;
}

/** A transaction of a stage committed: its outputs, state changes and offsets. */
export interface CommittedEvent {
  pipeline: string;
  stage: number;
  seconds: number;
  records: number;
}

/** A task's state was brought up to its changelogs' ends. */
export interface RestoredEvent {
  pipeline: string;
  stage: number;
  partition: number;
  seconds: number;
  /** Changelog records read to restore it. */
  records: number;
}

export const polled = channel<PolledEvent>('stream', 'poll');
export const deadLettered = channel<DeadLetteredEvent>('stream', 'dead-letter');
export const committed = channel<CommittedEvent>('stream', 'commit');
export const restored = channel<RestoredEvent>('stream', 'restore');
