import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { KappaError, type Logger, type ProducerRecord } from '../../core/index.ts';
import { type Bus, ensureTopic, type Producer } from '../../log/index.ts';
import { type SchemaRegistry, WireSerde } from '../../registry/index.ts';
import { captured } from '../ingest-events.ts';
import type { Capture } from './capture.ts';
import { CdcSetupError } from './cdc-errors.ts';
import { type CdcState, cdcStateRecord, readCdcState, snapshotted } from './cdc-state.ts';
import { ChangeRecords, cdcTopic } from './change-records.ts';
import { streamChanges } from './change-stream.ts';
import type { ChangeSource } from './envelope.ts';
import { formatLsn } from './pgoutput.ts';
import { ReplicationConnection } from './replication-connection.ts';
import { snapshotTables } from './snapshot-writer.ts';
import { checkServer, connectSource, ensurePublication, formatBytes, slotInfo } from './source-database.ts';
import { type CapturedTable, readTables } from './table-schema.ts';

export interface PostgresSourceOptions {
  /** The source's name: topics are `<name>.<schema>.<table>`. */
  name: string;
  url: string;
  /** `table` (in public) or `schema.table`. */
  tables: string[];
  slot: string;
  publication: string;
  /** Partitions of the tables' topics when Kappa makes them. */
  partitions: number;
  bus: Bus;
  registry: SchemaRegistry;
  logger: Logger;
  deadLetterTopic: string;
  maxRecordBytes: number;
  /** Warn when the slot keeps more WAL than this from being recycled. */
  warnRetainedWalBytes: number;
  /** Rows per snapshot page (one bus transaction each). */
  snapshotPageRows?: number;
}

export interface SourceStatus {
  name: string;
  phase: 'starting' | 'snapshot' | 'streaming' | 'retrying' | 'failed' | 'stopped';
  /** Where the bus has the source up to (`X/Y`), or null before the first write. */
  lsn: string | null;
  /** What PostgreSQL was last told is durable. */
  confirmedLsn: string | null;
  snapshot: { table: string; rows: number; estimate: number } | null;
  retainedWalBytes: number | null;
  lastError: string | null;
}

/**
 * Captures a PostgreSQL database's changes into the bus, as Debezium's Postgres connector does, but
 * exactly once: every bus transaction holds whole PostgreSQL transactions and, with them, the
 * position the source has reached (kappa-cdc-state); PostgreSQL is told a position only after the
 * bus has it, and on restart the source resumes from the bus. The first start snapshots the tables
 * through the slot's exported snapshot, a page per bus transaction; a snapshot cut short resumes at
 * a new consistent point (docs/ingest.md, "Exactly once").
 */
export class PostgresSource {
  readonly #o: PostgresSourceOptions;
  readonly #records: ChangeRecords;
  readonly #status: SourceStatus;
  #tables = new Map<string, CapturedTable>();
  #producer: Producer | null = null;
  #replication: ReplicationConnection | null = null;
  #query: pg.Client | null = null;
  #loop: Promise<void> | null = null;
  #stopped = false;
  readonly #stop = new AbortController();

  constructor(options: PostgresSourceOptions) {
    this.#o = options;
    this.#records = new ChangeRecords({
      source: options.name,
      registry: options.registry,
      serde: new WireSerde(options.registry),
      deadLetterTopic: options.deadLetterTopic,
      maxRecordBytes: options.maxRecordBytes,
    });
    this.#status = {
      name: options.name,
      phase: 'starting',
      lsn: null,
      confirmedLsn: null,
      snapshot: null,
      retainedWalBytes: null,
      lastError: null,
    };
  }

  get name(): string {
    return this.#o.name;
  }

  status(): SourceStatus {
    const confirmed = this.#replication?.confirmed;
    return {
      ...this.#status,
      ...(confirmed === undefined ? {} : { confirmedLsn: formatLsn(confirmed) }),
    };
  }

  /**
   * Checks the database and sets up the publication, the topics and the schemas (errors here are
   * the config's, and thrown), then captures in the background, reconnecting with backoff.
   */
  async start(): Promise<void> {
    const client = await connectSource(this.#o.url);
    try {
      await checkServer(client);
      const tables = await readTables(client, this.#o.tables);
      await ensurePublication(client, this.#o.publication, tables);
      await ensureTopic(this.#o.bus, this.#o.deadLetterTopic, { partitions: 1 });
      for (const table of tables) {
        await ensureTopic(this.#o.bus, cdcTopic(this.#o.name, table), {
          partitions: this.#o.partitions,
          compacted: true,
        });
        await this.#records.schemaId(table);
      }
      const slot = await slotInfo(client, this.#o.slot);
      if (slot) this.#warnRetained(slot.retainedBytes, slot.walStatus);
    } finally {
      await client.end().catch(() => {});
    }
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stop.abort();
    await this.#replication?.close();
    await this.#loop;
    this.#status.phase = 'stopped';
    this.#o.logger.warn(
      { source: this.#o.name, slot: this.#o.slot },
      `replication slot ${this.#o.slot} keeps PostgreSQL's WAL while Kappa is stopped: start Kappa again to let it go, or \`kappa cdc drop ${this.#o.name}\` to drop the source`,
    );
  }

  async #run(): Promise<void> {
    let backoff = 1000;
    while (!this.#stopped) {
      try {
        await this.#capture();
        backoff = 1000;
      } catch (error) {
        if (this.#stopped) break;
        const retriable = !(error instanceof KappaError) || error.retriable;
        this.#status.lastError = (error as Error).message;
        if (!retriable) {
          this.#status.phase = 'failed';
          this.#o.logger.error({ err: error, source: this.#o.name }, 'CDC source stopped');
          return;
        }
        this.#status.phase = 'retrying';
        this.#o.logger.warn(
          { err: error, source: this.#o.name, retryInMs: backoff },
          'CDC source failed; retrying',
        );
        await sleep(backoff, undefined, { signal: this.#stop.signal }).catch(() => {});
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /** One connection's worth of capture: resumes from the bus, snapshots what needs it, streams. */
  async #capture(): Promise<void> {
    const { bus, name, url } = this.#o;
    this.#query = await connectSource(url);
    try {
      const tables = await readTables(this.#query, this.#o.tables);
      this.#tables = new Map(tables.map((t) => [t.id, t]));
      for (const table of tables) await this.#records.schemaId(table);
      let state = await readCdcState(bus, name);
      const slot = await slotInfo(this.#query, this.#o.slot);
      if (slot?.active)
        throw new CdcSetupError(
          `Replication slot ${this.#o.slot} is in use by another client (PID ${slot.activePid}): is another Kappa capturing this source?`,
          { retriable: true },
        );
      if (state !== null && slot === null)
        throw new CdcSetupError(
          `Replication slot ${this.#o.slot} is gone (dropped, or invalidated by max_slot_wal_keep_size): changes since ${formatLsn(BigInt(state.lsn))} cannot be read. \`kappa cdc drop ${name}\` forgets the source, and the next start snapshots its tables again`,
        );
      this.#producer = bus.producer({ transactionalId: `kappa-cdc-${name}` });
      if (state === null) {
        // A slot without a stored state was made by a start that wrote nothing: made again, for its snapshot.
        if (slot) await this.#query.query('SELECT pg_drop_replication_slot($1)', [this.#o.slot]);
        this.#replication = await ReplicationConnection.open(url);
        const created = await this.#replication.createSlot(this.#o.slot);
        state = {
          version: 1,
          slot: this.#o.slot,
          publication: this.#o.publication,
          lsn: String(created.consistentPoint),
          tables: Object.fromEntries(tables.map((t) => [t.id, []])),
        };
        await snapshotTables(this.#captureOf(), created.snapshotName, created.consistentPoint, state);
      } else {
        state.tables = Object.fromEntries(tables.map((t) => [t.id, state!.tables[t.id] ?? []]));
        if (tables.some((t) => !snapshotted(state!.tables[t.id]))) {
          // Tables new to the source, or a snapshot a crash cut short: read at a new consistent
          // point, from a temporary slot that goes with its connection.
          const temporary = await ReplicationConnection.open(url);
          try {
            const created = await temporary.createSlot(`kappa_snapshot_${process.pid}_${Date.now()}`, {
              temporary: true,
            });
            await snapshotTables(this.#captureOf(), created.snapshotName, created.consistentPoint, state);
          } finally {
            await temporary.close();
          }
        }
        this.#replication = await ReplicationConnection.open(url);
      }
      if (this.#stopped) return;
      await streamChanges(this.#captureOf(), this.#replication, state);
    } finally {
      await this.#replication?.close();
      await this.#query.end().catch(() => {});
      await this.#producer?.close().catch(() => {});
      this.#producer = null;
    }
  }

  /** What the snapshot and the stream share, for the connection open now. */
  #captureOf(): Capture {
    return {
      name: this.#o.name,
      url: this.#o.url,
      slot: this.#o.slot,
      publication: this.#o.publication,
      bus: this.#o.bus,
      logger: this.#o.logger,
      snapshotPageRows: this.#o.snapshotPageRows ?? 5000,
      records: this.#records,
      tables: this.#tables,
      query: this.#query!,
      status: this.#status,
      stopped: () => this.#stopped,
      stopSignal: this.#stop.signal,
      commit: (records, state) => this.#commit(records, state),
      changeSource: (table, at) => this.#changeSource(table, at),
      checkSlot: () => this.#checkSlot(),
    };
  }

  /** Records and the state they bring the source to, in one bus transaction. */
  async #commit(records: ProducerRecord[], state: CdcState): Promise<void> {
    const txn = await this.#producer!.beginTransaction();
    try {
      if (records.length > 0) await txn.send(records);
      await txn.send([cdcStateRecord(this.#o.name, state)]);
      await txn.commit();
    } catch (error) {
      await txn.abort().catch(() => {});
      throw error;
    }
    if (captured.hasSubscribers) {
      const byTopic = new Map<string, number>();
      for (const r of records) byTopic.set(r.topic, (byTopic.get(r.topic) ?? 0) + 1);
      for (const [topic, n] of byTopic) captured.publish({ source: this.#o.name, topic, records: n });
    }
  }

  #changeSource(
    table: CapturedTable,
    at: Pick<ChangeSource, 'tsMs' | 'snapshot' | 'txId' | 'lsn' | 'lastCommitLsn'>,
  ): ChangeSource {
    return {
      name: this.#o.name,
      db: this.#database(),
      schema: table.schema,
      table: table.table,
      ...at,
    };
  }

  #database(): string {
    return decodeURIComponent(new URL(this.#o.url).pathname.slice(1)) || 'postgres';
  }

  async #checkSlot(): Promise<void> {
    try {
      const info = this.#query && (await slotInfo(this.#query, this.#o.slot));
      if (info) this.#warnRetained(info.retainedBytes, info.walStatus);
    } catch {
      // The stream's own failure says more.
    }
  }

  #warnRetained(bytes: number, walStatus: string | null): void {
    this.#status.retainedWalBytes = bytes;
    if (bytes > this.#o.warnRetainedWalBytes || walStatus === 'unreserved')
      this.#o.logger.warn(
        { source: this.#o.name, slot: this.#o.slot, retainedWal: formatBytes(bytes), walStatus },
        `replication slot ${this.#o.slot} retains ${formatBytes(bytes)} of WAL`,
      );
  }
}
