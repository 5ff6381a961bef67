import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type ArchivedEvent, archived } from '../archive/index.ts';
import type { TypedChannel } from '../core/index.ts';
import { type RequestedEvent, requested } from '../http/index.ts';
import { type CapturedEvent, captured } from '../ingest/index.ts';
import { kafkaAppended } from '../kafka/index.ts';
import {
  type AppendedEvent,
  appended,
  type Bus,
  BusScan,
  consumerLag,
  heldRecords,
  type PartitionRange,
} from '../log/index.ts';
import { type LookedUpEvent, lookedUp } from '../registry/index.ts';
import {
  type CacheLookupEvent,
  cacheLookup,
  type MaterializedEvent,
  materialized,
  type QueriedEvent,
  queried,
} from '../serve/index.ts';
import {
  type CommittedEvent,
  committed,
  type DeadLetteredEvent,
  deadLettered,
  type PolledEvent,
  polled,
  type RestoredEvent,
  restored,
} from '../stream/index.ts';

/** What the metrics read from the bus and the views when scraped, rather than from events. */
export interface MetricsSources {
  /** Consumer lag, topic sizes and changelog sizes. */
  bus?: Bus;
  /** The changelog topics of the pipelines run here. */
  changelogs?: () => string[];
  /** The views materialized here: their lag and rows. */
  views?: () => ReadonlyArray<{ view: string; lag(): Promise<number> }>;
  rowCount?: (view: string) => Promise<number>;
}

/** Seconds, from 1 ms to 10 s: requests, queries, commits. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Restores run from milliseconds to minutes. */
const RESTORE_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 15, 60, 300];

/**
 * Prometheus metrics kept from what the layers publish on their diagnostics channels (the layers
 * never import prom-client, and publish nothing while no Metrics is started), and, for what is a
 * state rather than an event (lag, sizes), read from the bus when scraped. Names follow
 * Prometheus's advice (`kappa_<thing>_<unit>`, `_total` counters, `_seconds` histograms). Each
 * Metrics has its own registry, so several (tests, two servers in one process) do not count into
 * one another.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Each channel listened to, with its listener: subscribed by start(), unsubscribed by stop(). */
  readonly #listeners: Array<{ subscribe(): void; unsubscribe(): void }> = [];
  #started = false;
  /** The lowest watermark of each pipeline stage, by `pipeline\0stage`. */
  readonly #watermarks = new Map<string, { pipeline: string; stage: string; watermark: number }>();
  /** This scrape's look at the bus, which serves every gauge of it (a new one per scrape). */
  #scan: BusScan | null = null;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counter = (name: string, help: string, labelNames: string[]) =>
      new Counter({ name, help, labelNames, registers });
    const histogram = (name: string, help: string, labelNames: string[], buckets = LATENCY_BUCKETS) =>
      new Histogram({ name, help, labelNames, buckets, registers });

    const appendedRecords = counter(
      'kappa_log_appended_records_total',
      'Records appended to a topic (embedded log: transaction markers included; Kafka: as acknowledged).',
      ['topic'],
    );
    const appendedBytes = counter(
      'kappa_log_appended_bytes_total',
      'Bytes appended to a topic (embedded log: batches as stored; Kafka: keys, values and headers sent).',
      ['topic'],
    );
    const onAppended = (e: AppendedEvent) => {
      appendedRecords.inc({ topic: e.topic }, e.records);
      appendedBytes.inc({ topic: e.topic }, e.bytes);
    };
    this.#on(appended, onAppended);
    this.#on(kafkaAppended, onAppended);

    const read = counter('kappa_pipeline_read_records_total', 'Records a pipeline stage read.', [
      'pipeline',
      'stage',
    ]);
    const stepRecords = counter(
      'kappa_pipeline_step_records_total',
      'Elements into (direction in) and out of (direction out) each step of a pipeline; a sink counts the records it writes.',
      ['pipeline', 'step', 'direction'],
    );
    const fired = counter(
      'kappa_pipeline_windows_fired_total',
      'Window results a window step emitted (with early or update emits, every emit counts).',
      ['pipeline', 'step'],
    );
    const late = counter(
      'kappa_pipeline_late_records_total',
      'Elements too late for a stateful step (past the watermark and the allowed lateness).',
      ['pipeline', 'step'],
    );
    this.#on(polled, (e: PolledEvent) => {
      const stage = String(e.stage);
      if (e.records > 0) read.inc({ pipeline: e.pipeline, stage }, e.records);
      for (const s of e.steps) {
        if (s.in > 0) stepRecords.inc({ pipeline: e.pipeline, step: s.step, direction: 'in' }, s.in);
        if (s.out > 0) stepRecords.inc({ pipeline: e.pipeline, step: s.step, direction: 'out' }, s.out);
        if (s.kind === 'window' && s.out > 0) fired.inc({ pipeline: e.pipeline, step: s.step }, s.out);
        if (s.late > 0) late.inc({ pipeline: e.pipeline, step: s.step }, s.late);
      }
      // A stage with no watermark (its partitions moved to another worker, or it stopped) has no
      // delay to show: a kept value would grow, and page someone for a watermark that is not stalled.
      const at = `${e.pipeline}\0${stage}`;
      if (e.watermark === null) this.#watermarks.delete(at);
      else this.#watermarks.set(at, { pipeline: e.pipeline, stage, watermark: e.watermark });
    });
    const watermarks = this.#watermarks;
    new Gauge({
      name: 'kappa_pipeline_watermark_delay_seconds',
      help: 'How far the lowest watermark of a pipeline stage is behind the wall clock.',
      labelNames: ['pipeline', 'stage'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const w of watermarks.values())
          this.set({ pipeline: w.pipeline, stage: w.stage }, Math.max(0, (now - w.watermark) / 1000));
      },
    });

    const letters = counter(
      'kappa_dead_letters_total',
      'Records and results sent to the dead-letter topic, by pipeline, step and reason (decode, error, late).',
      ['pipeline', 'step', 'reason'],
    );
    this.#on(deadLettered, (e: DeadLetteredEvent) =>
      letters.inc({ pipeline: e.pipeline, step: e.step, reason: e.reason }, e.count),
    );

    const commits = histogram(
      'kappa_pipeline_commit_seconds',
      'How long a pipeline stage took to commit a transaction (outputs, state changes and offsets).',
      ['pipeline'],
    );
    this.#on(committed, (e: CommittedEvent) => commits.observe({ pipeline: e.pipeline }, e.seconds));

    const restores = histogram(
      'kappa_state_restore_seconds',
      'How long restoring a pipeline task’s state took.',
      ['pipeline'],
      RESTORE_BUCKETS,
    );
    const restoredRecords = counter(
      'kappa_state_restored_records_total',
      'Changelog records read to restore pipeline tasks’ state.',
      ['pipeline'],
    );
    this.#on(restored, (e: RestoredEvent) => {
      restores.observe({ pipeline: e.pipeline }, e.seconds);
      restoredRecords.inc({ pipeline: e.pipeline }, e.records);
    });

    const upserts = counter('kappa_view_upserts_total', 'Rows a view materializer upserted.', ['view']);
    const deletes = counter('kappa_view_deletes_total', 'Rows a view materializer deleted.', ['view']);
    this.#on(materialized, (e: MaterializedEvent) => {
      if (e.upserts > 0) upserts.inc({ view: e.view }, e.upserts);
      if (e.deletes > 0) deletes.inc({ view: e.view }, e.deletes);
    });
    const lookups = counter(
      'kappa_view_cache_lookups_total',
      'Point lookups of a view’s latest row, by result (hit: answered by the cache).',
      ['view', 'result'],
    );
    this.#on(cacheLookup, (e: CacheLookupEvent) =>
      lookups.inc({ view: e.view, result: e.hit ? 'hit' : 'miss' }),
    );
    const queries = histogram('kappa_view_query_seconds', 'How long queries of the views took.', ['kind']);
    this.#on(queried, (e: QueriedEvent) => queries.observe({ kind: e.kind }, e.seconds));

    const requests = histogram(
      'kappa_http_request_duration_seconds',
      'HTTP requests, by method, route and status.',
      ['method', 'route', 'status'],
    );
    this.#on(requested, (e: RequestedEvent) =>
      requests.observe({ method: e.method, route: e.route, status: String(e.status) }, e.seconds),
    );
    const cdc = counter(
      'kappa_cdc_records_total',
      'Change records (snapshot rows, changes, tombstones) a CDC source committed, by source and topic.',
      ['source', 'topic'],
    );
    this.#on(captured, (e: CapturedEvent) => cdc.inc({ source: e.source, topic: e.topic }, e.records));
    const archivedFiles = counter('kappa_archive_files_total', 'Parquet files the archiver wrote.', [
      'topic',
    ]);
    const archivedRecords = counter('kappa_archive_records_total', 'Records the archiver wrote.', ['topic']);
    const archivedBytes = counter('kappa_archive_bytes_total', 'Bytes of the files the archiver wrote.', [
      'topic',
    ]);
    this.#on(archived, (e: ArchivedEvent) => {
      archivedFiles.inc({ topic: e.topic });
      archivedRecords.inc({ topic: e.topic }, e.records);
      archivedBytes.inc({ topic: e.topic }, e.bytes);
    });
    const registryLookups = counter(
      'kappa_registry_lookups_total',
      'Schemas looked up in the registry, by id or subject, found or missing.',
      ['by', 'result'],
    );
    this.#on(lookedUp, (e: LookedUpEvent) =>
      registryLookups.inc({ by: e.by, result: e.found ? 'found' : 'missing' }),
    );
  }

  /**
   * Adds the gauges read when scraped, from the bus (lag, sizes) and the views: once they are open,
   * while the events are listened to from before (a restore at start is an event).
   */
  readFrom(sources: MetricsSources): this {
    const registers = [this.registry];
    const { bus, changelogs, views, rowCount } = sources;
    if (bus) {
      const scan = () => (this.#scan ??= new BusScan(bus));
      new Gauge({
        name: 'kappa_consumer_lag_records',
        help: 'Records between a consumer group’s committed offset and the end of a partition.',
        labelNames: ['group', 'topic', 'partition'],
        registers,
        async collect() {
          this.reset();
          for (const l of await consumerLag(scan()))
            this.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag);
        },
      });
      const perTopic = (
        name: string,
        help: string,
        topics: () => Promise<readonly string[]> | readonly string[],
        value: (parts: PartitionRange[]) => number,
      ) =>
        new Gauge({
          name,
          help,
          labelNames: ['topic'],
          registers,
          async collect() {
            this.reset();
            for (const topic of await topics()) {
              const parts = await scan().ranges(topic);
              // A topic deleted since it was listed is left out.
              if (parts.length > 0) this.set({ topic }, value(parts));
            }
          },
        });
      const all = () => scan().topics();
      perTopic('kappa_topic_partitions', 'Partitions of a topic.', all, (parts) => parts.length);
      perTopic(
        'kappa_topic_records',
        'Records a topic holds now (end − start, over its partitions).',
        all,
        heldRecords,
      );
      perTopic(
        'kappa_topic_end_offset',
        'The sum of a topic’s partition ends: it grows by every record appended, by any producer.',
        all,
        (parts) => parts.reduce((n, p) => n + p.end, 0),
      );
      if (changelogs)
        perTopic(
          'kappa_state_changelog_records',
          'Records a pipeline step’s changelog holds (what a restore from scratch reads, at most).',
          changelogs,
          heldRecords,
        );
    }
    if (views) {
      new Gauge({
        name: 'kappa_view_materializer_lag_records',
        help: 'Records of a view’s topic its materializer has not applied yet.',
        labelNames: ['view'],
        registers,
        async collect() {
          this.reset();
          for (const m of views()) this.set({ view: m.view }, await m.lag().catch(() => 0));
        },
      });
      if (rowCount)
        new Gauge({
          name: 'kappa_view_rows',
          help: 'Rows of the version of a view queries read.',
          labelNames: ['view'],
          registers,
          async collect() {
            this.reset();
            for (const view of new Set(views().map((m) => m.view)))
              this.set({ view }, await rowCount(view).catch(() => 0));
          },
        });
    }
    return this;
  }

  #on<T>(channel: TypedChannel<T>, fn: (m: T) => void): void {
    this.#listeners.push({
      subscribe: () => channel.subscribe(fn),
      unsubscribe: () => channel.unsubscribe(fn),
    });
  }

  /** Listens to the layers' channels: from now on they publish. */
  start(): this {
    if (!this.#started) for (const l of this.#listeners) l.subscribe();
    this.#started = true;
    return this;
  }

  /** Stops listening: the layers go back to publishing nothing (if no one else listens). */
  stop(): void {
    if (this.#started) for (const l of this.#listeners) l.unsubscribe();
    this.#started = false;
  }

  /** The metrics in Prometheus's text exposition format, what `GET /metrics` answers. */
  text(): Promise<string> {
    this.#scan = null;
    return this.registry.metrics();
  }

  /** Kappa's own metrics (not Node's) as prom-client lists them: the dashboard's numbers. */
  async values(): Promise<unknown[]> {
    this.#scan = null;
    return (await this.registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('kappa_'));
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
