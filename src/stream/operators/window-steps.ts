import { SlicedWindowOperator } from './sliced-window-operator.ts';
import {
  type LateRecord,
  WindowOperator,
  type WindowOperatorOptions,
  type WindowResult,
} from './window-operator.ts';

/** What a window step's operator does: WindowOperator, or SlicedWindowOperator for plain hopping windows. */
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
}

/**
 * The operator for a window step. Hopping windows that emit only final results (and late updates)
 * are computed by slices, one update per record however many windows overlap; everything else by
 * WindowOperator.
 */
export function windowSteps<T, K, A, R>(options: WindowOperatorOptions<T, A, R>): WindowSteps<T, K, R> {
  const a = options.assigner;
  if (a.kind === 'hopping' && a.size % a.slide === 0 && options.emit?.mode === 'final')
    return new SlicedWindowOperator<T, K, A, R>({ ...options, assigner: a });
  return new WindowOperator<T, K, A, R>(options);
}
