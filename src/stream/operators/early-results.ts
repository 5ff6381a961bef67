import { decodeState, encodeState, stateKey } from '../state/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';
import type { EmitMode } from './window-operator.ts';
import { ordered } from './window-slots.ts';

/** What the early and updates emit modes need to know of an open window. */
export interface EarlyWindow {
  seq: number;
  fired: boolean;
  dropped: boolean;
  dirty?: boolean;
  emittedAt?: number;
}

/** When the early emit mode last fired (processing time): in the store, so a restored task keeps the rhythm. */
const EARLY_AT = stateKey([0, 'early-at']);

/**
 * Processing time moved on to `now`: the changed windows whose early result is due, in the order
 * they opened, each handed to `early` and taken out of `dirty`. `early` fires every changed window
 * once per interval; `updates` fires each window at most once per interval.
 */
export function earlyResults<W extends EarlyWindow>(
  emit: EmitMode | undefined,
  store: StateStore,
  dirty: Set<W>,
  now: number,
  early: (window: W) => void,
): void {
  if (!emit || emit.mode === 'final') return;
  if (emit.mode === 'early') {
    const stored = store.get(EARLY_AT);
    const last = stored === undefined ? Number.NEGATIVE_INFINITY : decodeState<number>(stored);
    if (now - last < emit.interval) return;
    store.put(EARLY_AT, encodeState(now));
  }
  for (const window of ordered([...dirty])) {
    if (!window.dirty || window.fired || window.dropped) {
      dirty.delete(window);
      continue;
    }
    if (emit.mode === 'updates' && now - (window.emittedAt ?? Number.NEGATIVE_INFINITY) < emit.interval)
      continue;
    early(window);
    dirty.delete(window);
  }
}

/**
 * A record changed an open window: the updates mode emits it now if its interval allows (`early`);
 * otherwise it waits in `dirty` for the next processing-time tick.
 */
export function changedWindow<W extends EarlyWindow>(
  emit: EmitMode | undefined,
  window: W,
  now: number,
  dirty: Set<W>,
  early: (window: W) => void,
): void {
  if (!emit || emit.mode === 'final') return;
  if (emit.mode === 'updates' && now - (window.emittedAt ?? Number.NEGATIVE_INFINITY) >= emit.interval)
    early(window);
  else {
    window.dirty = true;
    dirty.add(window);
  }
}
