import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Archiver, historyConsumer, ParquetFiles } from '../archive/index.ts';
import { ConfigError, type Logger, silentLogger, toMillis, UnknownTopicError } from '../core/index.ts';
import { KinesisSink, KinesisSource, PostgresSource } from '../ingest/index.ts';
import { KafkaBus } from '../kafka/index.ts';
import { type Bus, type ConsumerOptions, ensureTopic, openEmbeddedBus } from '../log/index.ts';
import { SchemaRegistry } from '../registry/index.ts';
import {
  ArchiveTables,
  DuckDbViewStore,
  MemoryViewCache,
  PostgresViewStore,
  RedisViewCache,
  type ViewCache,
  type ViewStore,
  Views,
} from '../serve/index.ts';
import { FolderStore, type ObjectStore, S3Store } from '../storage/index.ts';
import { isTwoInput, type Pipeline, PipelineRunner } from '../stream/index.ts';
import { loadPipelines } from './pipelines.ts';
import type { KappaConfig } from './schema.ts';

/** The parts a deployment's config names, opened and ready for http/ and cli/. */
export interface Assembly {
  config: KappaConfig;
  bus: Bus;
  registry: SchemaRegistry;
  /** The pipelines running, one runner each. */
  pipelines: PipelineRunner[];
  /** The views, with a materializer for each view of the pipelines run here. */
  views: Views;
  /** The CDC and Kinesis sources and Kinesis sinks run here (`kappa up` only). */
  sources: Array<PostgresSource | KinesisSource | KinesisSink>;
  /** The archiver of the config's topics (`kappa up` only; null when it has none to archive). */
  archiver: Archiver | null;
  /** Where the bus is, for people: the data folder or the Kafka brokers. */
  busDescription: string;
  close(): Promise<void>;
}

export interface AssembleOptions {
  /** Run only these pipelines (by name); default all in pipelines.dir. A name not found is an error. */
  pipelines?: string[];
  /** Capture the config's CDC sources (`kappa up`; workers do not). */
  sources?: boolean;
  /** Pipelines to run besides the folder's (`kappa up --demo`), with their source topics made first. */
  extra?: { pipelines: Pipeline[]; topics: Array<{ name: string; partitions: number }> };
}

export async function assemble(
  config: KappaConfig,
  logger: Logger = silentLogger,
  options: AssembleOptions = {},
): Promise<Assembly> {
  const bus = await openBus(config, logger);
  const busDescription =
    config.bus.kind === 'kafka'
      ? `Kafka at ${config.bus.brokers.join(',')}`
      : `embedded log in ${config.dataDir}`;
  let registry: SchemaRegistry | undefined;
  const pipelines: PipelineRunner[] = [];
  const sources: Array<PostgresSource | KinesisSource | KinesisSink> = [];
  let store: ViewStore | undefined;
  let cache: ViewCache | undefined;
  let views: Views | undefined;
  let archiver: Archiver | null = null;
  let archiveStore: ObjectStore | undefined;
  let parquet: ParquetFiles | undefined;
  let archiveTables: ArchiveTables | undefined;
  const close = async () => {
    await archiver?.stop();
    await parquet?.close();
    await archiveTables?.close();
    await archiveStore?.close();
    for (const source of sources) await source.stop();
    await views?.stop();
    for (const runner of pipelines) await runner.stop();
    await cache?.close();
    await store?.close();
    await registry?.close();
    await bus.close();
  };
  try {
    registry = await SchemaRegistry.open({ bus, logger, ...config.registry });
    // The archive first (it needs only the config): what a source starts, such as a CDC snapshot,
    // should not wait on it.
    const archived = archivedTopics(config);
    if (archived.length > 0) {
      archiveStore = await openArchiveStore(config);
      archiveTables = await ArchiveTables.open({
        store: archiveStore,
        topics: archived,
        cacheDir: path.join(config.dataDir, 'archive-cache'),
      });
    }
    // Sources first: a pipeline may read their topics, which they make.
    if (options.sources)
      for (const source of [
        ...cdcSources(config, bus, registry, logger),
        ...kinesisSources(config, bus, logger),
      ]) {
        await source.start();
        sources.push(source);
      }
    let loaded = await loadPipelines(config.pipelines.dir);
    if (options.pipelines) {
      const found = new Set(loaded.map((l) => l.pipeline.name));
      const missing = options.pipelines.filter((name) => !found.has(name));
      if (missing.length > 0)
        throw new ConfigError(
          `No pipeline named ${missing.map((n) => `'${n}'`).join(', ')} in ${config.pipelines.dir} (there: ${[...found].join(', ') || 'none'})`,
        );
      const wanted = new Set(options.pipelines);
      loaded = loaded.filter((l) => wanted.has(l.pipeline.name));
    }
    if (options.extra) {
      for (const t of options.extra.topics) await ensureTopic(bus, t.name, { partitions: t.partitions });
      loaded = [...loaded, ...options.extra.pipelines.map((pipeline) => ({ file: '(built in)', pipeline }))];
    }
    const fromArchive = loaded.flatMap(({ pipeline }) =>
      archiveSources(pipeline).map((topic) => ({ pipeline: pipeline.name, topic })),
    );
    const unarchived = fromArchive.filter((s) => !archived.includes(s.topic));
    if (unarchived.length > 0)
      throw new ConfigError(
        unarchived
          .map(
            (s) =>
              `Pipeline '${s.pipeline}' reads '${s.topic}' fromArchive, but archive.topics does not list it: add it, so the archive holds what the log deletes`,
          )
          .join('; '),
      );
    if (fromArchive.length > 0 || (options.sources && archived.length > 0)) parquet = new ParquetFiles();
    const history = { bus, store: archiveStore!, files: parquet!, logger };
    for (const { pipeline } of loaded) {
      await sourceTopic(bus, pipeline.name, pipeline.source.topic, config);
      for (const step of pipeline.steps)
        if (step.kind === 'join') await sourceTopic(bus, pipeline.name, step.table.topic, config);
        else if (isTwoInput(step)) await sourceTopic(bus, pipeline.name, step.other.source.topic, config);
      const runner = new PipelineRunner({
        bus,
        pipeline,
        deadLetterTopic: config.pipelines.deadLetterTopic,
        // On either bus, window state is kept locally under the data folder; the changelogs on the
        // bus are what it is restored from elsewhere.
        stateDir: path.join(config.dataDir, 'state'),
        checkpointDir: config.dataDir,
        checkpointIntervalMs: toMillis(config.pipelines.checkpointInterval),
        purgeIntervalMs: toMillis(config.pipelines.purgeInterval),
        maxPendingBytes: config.pipelines.maxPendingBytes,
        commitIntervalMs: toMillis(config.pipelines.commitInterval),
        // One process owns an embedded log, so this runner is its pipeline's only one.
        localExchange: config.bus.kind === 'embedded',
        cacheBytes: config.pipelines.stateCacheBytes,
        maxRecordBytes: config.log.maxRecordBytes,
        registry,
        logger,
        ...(parquet ? { history: (o: ConsumerOptions) => historyConsumer(o, history) } : {}),
      });
      await runner.start();
      pipelines.push(runner);
    }
    store = await openViewStore(config);
    cache = await openViewCache(
      config,
      store,
      loaded.map((l) => l.pipeline),
    );
    views = new Views({
      bus,
      store,
      cache,
      deadLetterTopic: config.pipelines.deadLetterTopic,
      logger,
      materialize: loaded.map((l) => l.pipeline),
      ...(archiveTables ? { archive: archiveTables } : {}),
      versions: {
        autoPromote: config.views.versions.autoPromote,
        maxLag: config.views.versions.maxLag,
        dropAfterMs: toMillis(config.views.versions.dropAfter),
      },
    });
    await views.start();
    if (options.sources && archived.length > 0) {
      archiver = new Archiver({
        bus,
        store: archiveStore!,
        files: parquet!,
        topics: archived,
        everyMs: toMillis(config.archive.every),
        logger,
      });
      archiver.start();
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return { config, bus, registry, pipelines, views, sources, archiver, busDescription, close };
}

/**
 * A pipeline's source topic must exist: made with one partition behind the user's back, it would fix
 * the pipeline's parallelism at one for good. With `topics.autoCreate` it is made as produce would.
 */
async function sourceTopic(bus: Bus, pipeline: string, topic: string, config: KappaConfig): Promise<void> {
  if (config.topics.autoCreate) {
    await ensureTopic(bus, topic, { partitions: config.topics.defaultPartitions });
    return;
  }
  try {
    await bus.describeTopic(topic);
  } catch (error) {
    if (!(error instanceof UnknownTopicError)) throw error;
    throw new ConfigError(
      `Pipeline '${pipeline}' reads topic '${topic}', which does not exist: create it first (kappa topics create ${topic} --partitions N), or set topics.autoCreate`,
    );
  }
}

function cdcSources(
  config: KappaConfig,
  bus: Bus,
  registry: SchemaRegistry,
  logger: Logger,
): PostgresSource[] {
  const seen = new Map<string, string>();
  return config.cdc.sources.map((s) => {
    const slot = s.slot ?? `kappa_${s.name}`;
    for (const [what, value] of [
      ['name', s.name],
      ['slot', slot],
    ] as const) {
      const other = seen.get(`${what}:${value}`);
      if (other)
        throw new ConfigError(`cdc.sources: ${s.name} and ${other} have the same ${what} '${value}'`);
      seen.set(`${what}:${value}`, s.name);
    }
    return new PostgresSource({
      name: s.name,
      url: s.url,
      tables: s.tables,
      slot,
      publication: s.publication ?? `kappa_${s.name}`,
      partitions: s.partitions,
      bus,
      registry,
      logger,
      deadLetterTopic: config.pipelines.deadLetterTopic,
      maxRecordBytes: config.bus.kind === 'kafka' ? config.bus.maxRecordBytes : config.log.maxRecordBytes,
      warnRetainedWalBytes: config.cdc.warnRetainedWalBytes,
      snapshotPageRows: config.cdc.snapshotPageRows,
    });
  });
}

function kinesisSources(config: KappaConfig, bus: Bus, logger: Logger): Array<KinesisSource | KinesisSink> {
  const connection = (c: {
    region: string;
    endpoint?: string | undefined;
    credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  }) => ({
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    ...(c.credentials ? { credentials: c.credentials } : {}),
  });
  return [
    ...config.kinesis.sources.map(
      (s) =>
        new KinesisSource({
          ...connection(s),
          name: s.name,
          stream: s.stream,
          topic: s.topic,
          partitions: s.partitions,
          from: s.from,
          pollIntervalMs: toMillis(s.pollInterval),
          bus,
          logger,
        }),
    ),
    ...config.kinesis.sinks.map(
      (s) =>
        new KinesisSink({ ...connection(s), name: s.name, topic: s.topic, stream: s.stream, bus, logger }),
    ),
  ];
}

/** The topics the config archives: its list, and the dead-letter topic unless turned off. */
export function archivedTopics(config: KappaConfig): string[] {
  const topics = new Set(config.archive.topics);
  if (config.archive.deadLetters) topics.add(config.pipelines.deadLetterTopic);
  return [...topics];
}

/** The topics a pipeline reads `fromArchive`: its source, and a join's other source. */
function archiveSources(pipeline: Pipeline): string[] {
  const sources = [pipeline.source];
  for (const step of pipeline.steps) if (isTwoInput(step)) sources.push(step.other.source);
  return sources.filter((s) => s.fromArchive).map((s) => s.topic);
}

/** The archive's object store, as the config names it. */
export async function openArchiveStore(config: KappaConfig): Promise<ObjectStore> {
  const s = config.archive.store;
  if (s.kind === 'folder') return FolderStore.open(s.dir ?? path.join(config.dataDir, 'archive'));
  return new S3Store({
    bucket: s.bucket,
    prefix: s.prefix,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.credentials ? { credentials: s.credentials } : {}),
  });
}

function openViewStore(config: KappaConfig): Promise<ViewStore> {
  const s = config.views.store;
  if (s.kind === 'postgres')
    return PostgresViewStore.open({
      url: s.url,
      schema: s.schema,
      ...(s.queryUrl === undefined ? {} : { queryUrl: s.queryUrl }),
    });
  return DuckDbViewStore.open({ file: s.file ?? path.join(config.dataDir, 'views', 'views.duckdb') });
}

async function openViewCache(config: KappaConfig, store: ViewStore, run: Pipeline[]): Promise<ViewCache> {
  const c = config.views.cache;
  if (c.kind === 'memory') return new MemoryViewCache({ maxBytes: c.maxBytes });
  // Entries expire with their view's retention: the pipelines' own, else the stored definitions'.
  const retention = new Map((await store.views()).map((v) => [v.name, v.retentionMs]));
  for (const p of run) for (const s of p.steps) if (s.kind === 'toView') retention.set(s.view, s.retentionMs);
  return RedisViewCache.open({
    url: c.url,
    prefix: c.prefix,
    retention: (view) => retention.get(view) ?? null,
  });
}

/** The bus the config names, opened (Kafka: checked to answer). */
export async function openBus(config: KappaConfig, logger: Logger = silentLogger): Promise<Bus> {
  if (config.bus.kind === 'embedded') {
    return openEmbeddedBus({
      dataDir: config.dataDir,
      maxRecordBytes: config.log.maxRecordBytes,
      maintenanceInterval: config.log.maintenanceInterval,
      maxPartitions: config.log.maxPartitions,
      maxPartitionsPerTopic: config.topics.maxPartitions,
      maxOpenFiles: config.log.maxOpenFiles,
      topicDefaults: { fsync: config.log.fsync, segmentBytes: config.log.segmentBytes },
      logger,
    });
  }
  const { kind: _kind, tls, ...kafka } = config.bus;
  const bus = new KafkaBus({ ...kafka, ...(tls === undefined ? {} : { tls: await tlsOptions(tls) }) });
  // Fail at start, with the cause (unreachable, refused credentials, untrusted certificate), rather
  // than on the first request.
  try {
    await bus.listTopics();
  } catch (error) {
    await bus.close();
    throw error;
  }
  return bus;
}

type TlsConfig = Exclude<Extract<KappaConfig['bus'], { kind: 'kafka' }>['tls'], undefined>;

async function tlsOptions(tls: TlsConfig): Promise<TlsOptions | boolean> {
  if (typeof tls === 'boolean') return tls;
  const read = async (text: string | undefined, file: string | undefined, what: string) => {
    if (text !== undefined) return text;
    if (file === undefined) return undefined;
    return readFile(file, 'utf8').catch((error: Error) => {
      throw new ConfigError(`bus.tls.${what}File: cannot read ${file}: ${error.message}`);
    });
  };
  const ca = await read(tls.ca, tls.caFile, 'ca');
  const cert = await read(tls.cert, tls.certFile, 'cert');
  const key = await read(tls.key, tls.keyFile, 'key');
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
  };
}
