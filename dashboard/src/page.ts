import type { Snapshot } from './api.ts';

/** A page of the dashboard: drawn once into its root, then told of each live snapshot. */
export interface Page {
  readonly title: string;
  mount(root: HTMLElement): void | Promise<void>;
  /** The snapshots so far, oldest first (at most two minutes' worth); the last is the newest. */
  update?(history: readonly Snapshot[]): void;
}

/** Per second, between the last two snapshots, of what `read` counts in each; empty with fewer than two. */
export function ratesOf(
  history: readonly Snapshot[],
  read: (s: Snapshot) => Map<string, number>,
): Map<string, number> {
  const out = new Map<string, number>();
  const now = history.at(-1);
  const before = history.at(-2);
  if (!now || !before) return out;
  const seconds = Math.max(0.001, (now.status.at - before.status.at) / 1000);
  const previous = read(before);
  for (const [name, value] of read(now)) {
    const was = previous.get(name);
    if (was !== undefined) out.set(name, Math.max(0, (value - was) / seconds));
  }
  return out;
}
