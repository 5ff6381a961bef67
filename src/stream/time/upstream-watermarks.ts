import { NO_WATERMARK } from './watermarks.ts';

interface Upstream {
  watermark: number;
  idle: boolean;
}

/**
 * A task's watermark when its input is a repartition topic: each of its partitions hears from every
 * upstream task (one per upstream partition) how far that task's event time has got. A partition's
 * watermark is the minimum over upstream tasks that are not idle (one not heard from yet counts as
 * having no watermark); if all are idle, the largest they reached stands. The task's watermark is the
 * minimum over its partitions and never goes back — Flink's rule for a task with several input channels.
 */
export class UpstreamWatermarks {
  readonly #upstreams: number;
  readonly #partitions = new Map<number, Map<number, Upstream>>();
  #current = NO_WATERMARK;

  constructor(upstreams: number, partitions: Iterable<number>) {
    this.#upstreams = upstreams;
    for (const p of partitions) this.#partitions.set(p, new Map());
  }

  get current(): number {
    return this.#current;
  }

  /** An upstream task's watermark arrived on a partition; returns the task's watermark. */
  observe(partition: number, upstream: number, watermark: number, idle: boolean): number {
    let heard = this.#partitions.get(partition);
    if (!heard) this.#partitions.set(partition, (heard = new Map()));
    const known = heard.get(upstream);
    // Markers of one upstream come in order on a partition, but a restarted upstream may repeat an older one.
    heard.set(upstream, { watermark: Math.max(watermark, known?.watermark ?? NO_WATERMARK), idle });
    return this.#advance();
  }

  #advance(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const heard of this.#partitions.values()) min = Math.min(min, this.#partitionWatermark(heard));
    if (min !== Number.POSITIVE_INFINITY && min > this.#current) this.#current = min;
    return this.#current;
  }

  #partitionWatermark(heard: Map<number, Upstream>): number {
    let min = Number.POSITIVE_INFINITY;
    let largest = NO_WATERMARK;
    let active = 0;
    for (let u = 0; u < this.#upstreams; u++) {
      const upstream = heard.get(u);
      if (upstream === undefined) return NO_WATERMARK;
      largest = Math.max(largest, upstream.watermark);
      if (upstream.idle) continue;
      active++;
      min = Math.min(min, upstream.watermark);
    }
    return active === 0 ? largest : min;
  }

  /** For checkpoints: what each partition has heard. */
  snapshot(): Array<[partition: number, upstreams: Array<[number, number, boolean]>]> {
    return [...this.#partitions].map(([p, heard]) => [
      p,
      [...heard].map(([u, s]) => [u, s.watermark, s.idle]),
    ]);
  }

  restore(snapshot: Array<[number, Array<[number, number, boolean]>]>): void {
    for (const [p, upstreams] of snapshot)
      this.#partitions.set(p, new Map(upstreams.map(([u, watermark, idle]) => [u, { watermark, idle }])));
    this.#advance();
  }
}
