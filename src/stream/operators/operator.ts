/**
 * The contract of every stateful step of a pipeline (windows, joins), as Arroyo's ArrowOperator
 * and Flink's StreamOperator: `process` for each element, and control messages (one union) for
 * everything else. Operators keep their live state in memory and write what changed to their step's
 * StateStore at a checkpoint; the task sends those writes to the changelog in the transaction that
 * commits the input offsets, so an operator never sees the bus.
 */
export interface Operator<Out> {
  /** One element; results may come out at once (`ctx.emit`), or later at a watermark. */
  process(input: OperatorInput, ctx: OperatorContext<Out>): void;
  /** The watermark passed `watermark`: fire what is due and drop what can no longer change. */
  onWatermark?(watermark: number, ctx: OperatorContext<Out>): void;
  /** Processing time moved on to `now` (early firings). */
  onTick?(now: number, ctx: OperatorContext<Out>): void;
  /** Write what changed since the last checkpoint to the store, as pending writes. */
  onCheckpoint?(): void;
  /** The task stops: release what is held outside the store. */
  onClose?(): void;
  /** Rebuilds the operator's memory from its store, a chunk per step (the event loop runs between). */
  loading?(): Generator<void>;
}

/** What a step is given: an element of its input, keyed (every stateful step follows a keyBy). */
export interface OperatorInput {
  value: unknown;
  key: unknown;
  eventTime: number;
  /** The input it comes in on: 0, or 1 for the other side of a two-input step (a join). */
  side: 0 | 1;
  /** Processing time, for the emit modes that look at it (0 where none does). */
  now: number;
}

export interface OperatorContext<Out> {
  /** The watermark of the step's input when the element came. */
  readonly watermark: number;
  emit(out: Out): void;
  /** An element too late for the step (beyond its allowed lateness): the late topic or the dead letters. */
  late(input: OperatorInput): void;
}

/** Control messages: every call to an operator other than `process`. */
export type Control =
  | { kind: 'watermark'; watermark: number }
  | { kind: 'tick'; now: number }
  | { kind: 'checkpoint' }
  | { kind: 'stop' };

/** Delivers a control message, with the contract's defaults for what the operator leaves out (nothing). */
export function control<Out>(op: Operator<Out>, message: Control, ctx: OperatorContext<Out>): void {
  switch (message.kind) {
    case 'watermark':
      op.onWatermark?.(message.watermark, ctx);
      return;
    case 'tick':
      op.onTick?.(message.now, ctx);
      return;
    case 'checkpoint':
      op.onCheckpoint?.();
      return;
    case 'stop':
      op.onClose?.();
      return;
  }
}

/** A keyed result of a two-input step: what flows on, with the key it was joined on. */
export interface Joined {
  key: unknown;
  value: unknown;
  eventTime: number;
}
