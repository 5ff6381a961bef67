import type { Operator, OperatorContext } from './operator.ts';
import { SessionWindowOperator } from './session-window-operator.ts';
import { SlicedWindowOperator } from './sliced-window-operator.ts';
import {
  type LateRecord,
  WindowOperator,
  type WindowOperatorOptions,
  type WindowResult,
} from './window-operator.ts';

/** What a window step's operator does: WindowOperator, SessionWindowOperator, or SlicedWindowOperator for plain hopping windows. */
export interface WindowSteps<T, K, R> {
  /** Adds a record; emits updates of already fired windows at once; too-late records go to `late`. */
  process(
    record: T,
    key: K,
    eventTime: number,
    watermark: number,
    out: (r: WindowResult<K, R>) => void,
    late: (l: LateRecord<T, K>) => void,
    now?: number,
  ): void;
  /** Fires the windows the watermark has passed and drops those past their lateness, in time order. */
  onWatermark(watermark: number, out: (r: WindowResult<K, R>) => void): void;
  /** Processing time moved on: early results that are due. */
  onProcessingTime(now: number, out: (r: WindowResult<K, R>) => void): void;
  /** Writes what changed since the last flush to the store (before a snapshot). */
  flush(): void;
  /** Rebuilds everything from the store, at once. */
  restored(): void;
  /** The same, a chunk of entries per step, for a caller that lets the event loop run between steps. */
  loading(): Generator<void>;
  /** Windows (or slices' slots) held in memory: what the cache budget bounds. */
  readonly cachedWindows: number;
}

/**
 * The operator for a window step. Sessions have their own; hopping windows that emit only final
 * results (and late updates) are computed by slices, one update per record however many windows
 * overlap; tumbling and other hopping windows by WindowOperator.
 */
export function windowSteps<T, K, A, R>(options: WindowOperatorOptions<T, A, R>): WindowSteps<T, K, R> {
  const a = options.assigner;
  if (a.kind === 'session') return new SessionWindowOperator<T, K, A, R>({ ...options, assigner: a });
  if (a.kind === 'hopping' && a.size % a.slide === 0 && options.emit?.mode === 'final')
    return new SlicedWindowOperator<T, K, A, R>({ ...options, assigner: a });
  return new WindowOperator<T, K, A, R>({ ...options, assigner: a });
}

/**
 * A window step on the operator contract. Its late records keep the element they were (the late
 * topic shows it), and `late` is bound once per context, not per record.
 */
export function windowOperator<T, K, A, R>(
  options: WindowOperatorOptions<T, A, R>,
): Operator<WindowResult<K, R>> & { readonly steps: WindowSteps<T, K, R> } {
  const steps = windowSteps<T, K, A, R>(options);
  let bound: OperatorContext<WindowResult<K, R>> | null = null;
  let late: (l: LateRecord<T, K>) => void = () => {};
  const lateOf = (ctx: OperatorContext<WindowResult<K, R>>) => {
    if (ctx !== bound) {
      bound = ctx;
      late = (l) => ctx.late({ value: l.record, key: l.key, eventTime: l.eventTime, side: 0, now: 0 });
    }
    return late;
  };
  return {
    steps,
    process: (input, ctx) =>
      steps.process(
        input.value as T,
        input.key as K,
        input.eventTime,
        ctx.watermark,
        ctx.emit,
        lateOf(ctx),
        input.now,
      ),
    onWatermark: (watermark, ctx) => steps.onWatermark(watermark, ctx.emit),
    onTick: (now, ctx) => steps.onProcessingTime(now, ctx.emit),
    onCheckpoint: () => steps.flush(),
    loading: () => steps.loading(),
  };
}
