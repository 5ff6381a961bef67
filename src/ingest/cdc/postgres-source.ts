import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { KappaError, type Logger, type ProducerRecord } from '../../core/index.ts';
import { type Bus, ensureTopic, type Producer, readLatest } from '../../log/index.ts';
import { type SchemaRegistry, WireSerde } from '../../registry/index.ts';
import { CdcSetupError } from './cdc-errors.ts';
import { type CdcState, cdcStateRecord, readCdcState, type Segment, snapshotted } from './cdc-state.ts';
import { type Change, ChangeRecords, cdcTopic, TRUNCATE_KEY } from './change-records.ts';
import type { ChangeSource } from './envelope.ts';
import { formatLsn, PgOutputDecoder, type Relation } from './pgoutput.ts';
import { ReplicationConnection } from './replication-connection.ts';
import { keyAtOrBefore, SnapshotReader } from './snapshot-reader.ts';
import { checkServer, connectSource, ensurePublication, formatBytes, slotInfo } from './source-database.ts';
import {
  type CapturedColumn,
  type CapturedTable,
  capturedColumn,
  readTables,
  readTypes,
} from './table-schema.ts';

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

/** Microseconds from 1970 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_MS = 946_684_800_000;
/** Records past which a batch of whole transactions is written even if more are waiting. */
const MAX_BATCH_RECORDS = 5000;
const SLOT_CHECK_INTERVAL_MS = 60_000;

/** One open PostgreSQL transaction, gathered until its commit. */
interface OpenTransaction {
  xid: number;
  commitLsn: bigint;
  tsMs: number;
  records: ProducerRecord[];
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
        await this.#snapshot(created.snapshotName, created.consistentPoint, state);
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
            await this.#snapshot(created.snapshotName, created.consistentPoint, state);
          } finally {
            await temporary.close();
          }
        }
        this.#replication = await ReplicationConnection.open(url);
      }
      if (this.#stopped) return;
      await this.#stream(this.#replication, state);
    } finally {
      await this.#replication?.close();
      await this.#query.end().catch(() => {});
      await this.#producer?.close().catch(() => {});
      this.#producer = null;
    }
  }

  /** Reads every table not snapshotted yet, a page per bus transaction, each with the state it reaches. */
  async #snapshot(snapshotName: string, lsn: bigint, state: CdcState): Promise<void> {
    this.#status.phase = 'snapshot';
    const pageRows = this.#o.snapshotPageRows ?? 5000;
    const client = await connectSource(this.#o.url);
    const reader = await SnapshotReader.open(client, snapshotName);
    try {
      for (const table of this.#tables.values()) {
        const segments = state.tables[table.id]!;
        if (snapshotted(segments)) continue;
        let after = segments.at(-1)?.upTo ?? null;
        const estimate = await reader.estimate(table);
        let rows = state.snapshotRows?.[table.id] ?? 0;
        let current: Segment | null = null;
        let logged = Date.now();
        this.#status.snapshot = { table: table.id, rows, estimate };
        this.#o.logger.info(
          { source: this.#o.name, table: table.id, estimate, resumingAfter: after },
          'snapshot of a table started',
        );
        for (;;) {
          if (this.#stopped) return;
          const page = await reader.page(table, after, pageRows);
          const done = page.length < pageRows;
          if (page.length > 0) {
            const last = page.at(-1)!;
            after = table.key.map((k) => last[table.columns.findIndex((c) => c.name === k)] as string);
          }
          const upTo = done ? null : after;
          if (current) current.upTo = upTo;
          else segments.push((current = { upTo, lsn: String(lsn) }));
          rows += page.length;
          state.snapshotRows = { ...state.snapshotRows, [table.id]: rows };
          const tsMs = Date.now();
          const records = page.flatMap((row) =>
            this.#records
              .records({
                table,
                op: 'r',
                before: null,
                beforeKeyOnly: false,
                after: row,
                source: this.#changeSource(table, {
                  tsMs,
                  snapshot: 'true',
                  txId: null,
                  lsn,
                  lastCommitLsn: null,
                }),
              })
              .map((k) => k.record),
          );
          await this.#commit(records, state);
          this.#status.lsn = formatLsn(BigInt(state.lsn));
          this.#status.snapshot = { table: table.id, rows, estimate };
          if (done || Date.now() - logged > 5000) {
            logged = Date.now();
            this.#o.logger.info(
              {
                source: this.#o.name,
                table: table.id,
                rows,
                estimate,
                ...(estimate > 0 ? { percent: Math.min(100, Math.round((rows / estimate) * 100)) } : {}),
              },
              done ? 'snapshot of a table done' : 'snapshot in progress',
            );
          }
          if (done) break;
        }
      }
      state.snapshotRows = undefined;
      this.#status.snapshot = null;
    } finally {
      await reader.close();
      await client.end().catch(() => {});
    }
  }

  /** Streams from the slot until the connection fails or the source stops. */
  async #stream(replication: ReplicationConnection, state: CdcState): Promise<void> {
    const decoder = new PgOutputDecoder();
    const resume = BigInt(state.lsn);
    const relations = new Map<number, CapturedTable | null>();
    let txn: OpenTransaction | null = null;
    let batch: ProducerRecord[] = [];
    let batchEnd: bigint | null = null;
    let lastCommitLsn: bigint | null = null;
    let fail!: (error: Error) => void;
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    failed.catch(() => {});

    const flush = async () => {
      if (batchEnd === null) return;
      state.lsn = String(batchEnd);
      for (const [id, segments] of Object.entries(state.tables))
        if (segments.length > 1 && segments.every((s) => BigInt(s.lsn) <= batchEnd!))
          state.tables[id] = [{ upTo: null, lsn: '0' }];
      await this.#commit(batch, state);
      replication.confirm(batchEnd);
      this.#status.lsn = formatLsn(batchEnd);
      batch = [];
      batchEnd = null;
    };

    const onChange = async (change: Change) => {
      for (const keyed of this.#records.records(change))
        if (await this.#counts(state, change.table, keyed.keyText, txn!.commitLsn))
          txn!.records.push(keyed.record);
    };

    const source = (table: CapturedTable, lsn: bigint) =>
      this.#changeSource(table, { tsMs: txn!.tsMs, snapshot: 'false', txId: txn!.xid, lsn, lastCommitLsn });

    await replication.start(this.#o.slot, this.#o.publication, resume, {
      onMessage: async (data, walStart) => {
        const m = decoder.decode(data);
        if (m.tag === 'begin') {
          txn = {
            xid: m.xid,
            commitLsn: m.finalLsn,
            tsMs: Number(m.commitTimeMicros / 1000n) + PG_EPOCH_MS,
            records: [],
          };
          return;
        }
        if (m.tag === 'relation') {
          relations.set(m.relation.oid, await this.#relationTable(m.relation));
          return;
        }
        if (m.tag === 'commit') {
          if (txn && m.commitLsn >= resume) {
            for (const r of txn.records) batch.push(r);
            batchEnd = m.endLsn;
            lastCommitLsn = m.commitLsn;
          }
          txn = null;
          if (batch.length >= MAX_BATCH_RECORDS || replication.queued === 0) await flush();
          return;
        }
        // A transaction the bus has already: PostgreSQL sends it again when it was not confirmed.
        if (!txn || txn.commitLsn < resume) return;
        if (m.tag === 'insert' || m.tag === 'update' || m.tag === 'delete') {
          const table = relations.get(m.relation.oid);
          if (!table) return;
          const op = m.tag === 'insert' ? 'c' : m.tag === 'update' ? 'u' : 'd';
          await onChange({
            table,
            op,
            before: m.tag === 'insert' ? null : m.before,
            beforeKeyOnly: m.tag === 'insert' ? false : m.beforeKeyOnly,
            after: m.tag === 'delete' ? null : m.after,
            source: source(table, walStart),
          });
        } else if (m.tag === 'truncate') {
          await flush();
          for (const relation of m.relations) {
            const table = relations.get(relation.oid);
            if (table)
              txn.records.push(...(await this.#truncated(table, txn.records, source(table, walStart))));
          }
        }
      },
      onKeepalive: async (walEnd) => {
        if (txn !== null) return;
        if (batchEnd !== null) await flush();
        // Nothing in hand: everything the server has decoded up to walEnd is on the bus (or was not
        // ours), so the slot may let that WAL go, also when no captured table changes for a while.
        else if (walEnd > replication.confirmed) replication.confirm(walEnd);
      },
      onError: (error) => fail(error),
    });
    this.#status.phase = 'streaming';
    this.#status.lastError = null;
    this.#o.logger.info(
      { source: this.#o.name, slot: this.#o.slot, from: formatLsn(resume) },
      'CDC source streaming',
    );
    const check = setInterval(() => void this.#checkSlot(), SLOT_CHECK_INTERVAL_MS);
    try {
      await Promise.race([
        failed,
        new Promise((resolve) => this.#stop.signal.addEventListener('abort', resolve)),
      ]);
    } finally {
      clearInterval(check);
    }
  }

  /**
   * Whether a streamed change to this key counts: not when it committed before the consistent point
   * of the snapshot segment holding the key (the snapshot has it already).
   */
  async #counts(
    state: CdcState,
    table: CapturedTable,
    keyText: readonly (string | null | symbol)[] | null,
    commitLsn: bigint,
  ): Promise<boolean> {
    const segments = state.tables[table.id];
    if (!segments) return false;
    if (keyText === null || segments.every((s) => BigInt(s.lsn) <= commitLsn)) return true;
    for (const s of segments)
      if (s.upTo === null || (await keyAtOrBefore(this.#query!, table, keyText as (string | null)[], s.upTo)))
        return commitLsn >= BigInt(s.lsn);
    return true;
  }

  /**
   * A table as a Relation message describes it now (after ALTER TABLE, a new one comes before the
   * next change): the same object while its columns are unchanged, else a new shape with a new
   * schema version. Null for a table the source does not capture.
   */
  async #relationTable(relation: Relation): Promise<CapturedTable | null> {
    const id = `${relation.schema}.${relation.table}`;
    const known = this.#tables.get(id);
    if (!known) return null;
    const same =
      known.columns.length === relation.columns.length &&
      known.columns.every(
        (c, i) =>
          c.name === relation.columns[i]!.name &&
          c.typeOid === relation.columns[i]!.typeOid &&
          c.typeMod === relation.columns[i]!.typeMod,
      );
    if (same) return known;
    const types = await readTypes(
      this.#query!,
      relation.columns.map((c) => c.typeOid),
    );
    const columns: CapturedColumn[] = [];
    for (const c of relation.columns) {
      const { rows } = await this.#query!.query<{ t: string }>('SELECT format_type($1::oid, $2::int4) AS t', [
        c.typeOid,
        c.typeMod,
      ]);
      columns.push(capturedColumn(c.name, c.typeOid, c.typeMod, rows[0]!.t, types.get(c.typeOid)!));
    }
    const missing = known.key.filter((k) => !columns.some((c) => c.name === k));
    const key = missing.length === 0 ? known.key : (await readTables(this.#query!, [id]))[0]!.key;
    const table: CapturedTable = { ...known, columns, key, replicaIdentity: relation.replicaIdentity };
    await this.#records.schemaId(table);
    this.#tables.set(id, table);
    this.#o.logger.info(
      { source: this.#o.name, table: id, columns: columns.map((c) => c.name) },
      'captured table changed shape: a new schema version',
    );
    return table;
  }

  /**
   * A truncate: Debezium's `t` event (keyed `{}`, followed by its tombstone), then a tombstone for
   * every row the table's topic holds, so that the compacted topic is an empty table too.
   */
  async #truncated(
    table: CapturedTable,
    pending: readonly ProducerRecord[],
    source: ChangeSource,
  ): Promise<ProducerRecord[]> {
    const topic = cdcTopic(this.#o.name, table);
    const live = await readLatest(this.#o.bus, topic);
    for (const r of pending) if (r.topic === topic && r.key) live.set(r.key.toString('utf8'), r.value);
    const records = this.#records.truncate(table, source);
    for (const [key, value] of live)
      if (value !== null && key !== TRUNCATE_KEY)
        records.push({ topic, key: Buffer.from(key), value: null, timestamp: source.tsMs });
    return records;
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
