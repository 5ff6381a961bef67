import type { StepCount } from './stream-events.ts';

/**
 * What one step of a task sees, counted on the per-record path with one increment per element: its
 * elements in, and its elements out only where no counted step follows it in its chain (a sink, a
 * cut, a chain's end into a two-input step); elsewhere its out is the next step's in.
 */
export class StepCounter {
  in = 0;
  out = 0;
  late = 0;
  /** The step whose in is this one's out, or null: out is counted here. */
  next: StepCounter | null = null;
  readonly step: string;
  readonly kind: string;

  constructor(step: string, kind: string) {
    this.step = step;
    this.kind = kind;
  }

  /** The counts since the last reset: read every counter of a task before resetting any. */
  reading(): StepCount {
    const out = this.next === null ? this.out : this.next.in;
    return { step: this.step, kind: this.kind, in: this.in, out, late: this.late };
  }

  reset(): void {
    this.in = this.out = this.late = 0;
  }
}
