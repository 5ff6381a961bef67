import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../core/index.ts';
import type { Bus, Consumer } from '../../log/index.ts';
import type { Table } from '../dsl/steps.ts';
import { LmdbTaskState } from '../state/lmdb-state-store.ts';
import { MemoryStateStore } from '../state/memory-state-store.ts';
import type { StateStore } from '../state/state-store.ts';
import type { TableLookup } from './pipeline-task.ts';

export interface TableReaderOptions {
  /** Where the rows are kept (an lmdb file), so a restart reads only what the topic gained; null: in memory. */
  file: string | null;
  /** Memory for decoded rows (estimated bytes); the rest are read from the store and decoded when looked up. */
  cacheBytes: number;
}

/** What a decoded row costs in memory beyond its stored bytes: the Map entry, the object's headers. */
const ROW_OVERHEAD_BYTES = 200;
/** Where the rows' positions in the topic are kept, beside the rows (whose keys start with 1). */
const POSITIONS = Buffer.from([0]);

/**
 * A table's rows, read from its whole topic (every partition: the topic is compacted, so that is its
 * live keys) and kept up to date as the topic changes, as Kafka Streams keeps a GlobalKTable. The
 * topic is the table's own changelog: the rows are kept in a store of their own (lmdb under the data
 * folder), with the position in each partition they reach written in the same commit, so a restart
 * reads only the topic's tail, and memory holds only the rows looked up recently (decoded, within
 * a budget), whatever the table's size. A value the table's serde cannot read is skipped with a
 * warning (the table keeps the key's previous row); a null value deletes the key.
 */
export class TableReader implements TableLookup {
  readonly table: Table;
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #o: TableReaderOptions;
  #store: StateStore = new MemoryStateStore();
  /** Decoded rows looked up or written recently, least recently used first; null: the key has no row. */
  readonly #cache = new Map<string, unknown>();
  /** Stored size of a row, averaged. */
  #rowBytes = 64;
  #rows = 0;
  /** Next offset to apply, by partition, as the store holds it after its last commit. */
  #positions = new Map<number, number>();
  #consumer: Consumer | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(bus: Bus, table: Table, logger: Logger, options: TableReaderOptions) {
    this.#bus = bus;
    this.table = table;
    this.#logger = logger;
    this.#o = options;
  }

  /** Live rows. */
  get size(): number {
    return this.#rows;
  }

  /** Rows held decoded in memory: what the cache budget bounds. */
  get cachedRows(): number {
    return this.#cache.size;
  }

  get(key: string): unknown {
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      // Least recently used first: a hit moves to the end.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached ?? undefined;
    }
    const bytes = this.#store.get(rowKey(key));
    const row = bytes === undefined ? null : this.table.serde.decode(bytes);
    this.#remember(key, row, bytes?.length ?? 0);
    return row ?? undefined;
  }

  /** Reads the topic up to its end as it is now (from where the store left off), then goes on following it in the background. */
  async start(): Promise<void> {
    const { topic } = this.table;
    await this.#open();
    const ranges = await this.#bus.partitionOffsets(topic);
    // A position the topic no longer has (it was deleted and made again, or its head was removed
    // under the rows it held): the rows are read again from the start.
    const stale = ranges.some((r) => {
      const at = this.#positions.get(r.partition);
      return at !== undefined && (at > r.end || at < r.start);
    });
    if (stale || this.#positions.size > ranges.length) {
      this.#logger.warn({ table: topic }, 'the table topic changed under its stored rows; reading it again');
      await this.#store.clear();
      this.#positions.clear();
      this.#rows = 0;
    }
    const consumer = this.#bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
    this.#consumer = consumer;
    await consumer.assign(
      ranges.map((r) => ({
        topic,
        partition: r.partition,
        offset: this.#positions.get(r.partition) ?? r.start,
      })),
    );
    const caughtUp = () => ranges.every((r) => (consumer.position(topic, r.partition) ?? r.start) >= r.end);
    while (!caughtUp()) await this.#apply(await consumer.poll({ maxRecords: 5000, timeoutMs: 200 }));
    this.#running = this.#follow();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
    await this.#consumer?.close();
    await this.#store.close();
  }

  async #open(): Promise<void> {
    if (this.#o.file !== null) {
      await mkdir(path.dirname(this.#o.file), { recursive: true });
      // The environment closes with its one store.
      this.#store = LmdbTaskState.open(this.#o.file).store('rows');
    }
    const stored = this.#store.get(POSITIONS);
    if (stored === undefined) return;
    const { positions, rows } = JSON.parse(stored.toString()) as {
      positions: Array<[number, number]>;
      rows: number;
    };
    this.#positions = new Map(positions);
    this.#rows = rows;
  }

  async #follow(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#apply(await this.#consumer!.poll({ maxRecords: 5000, timeoutMs: 200 }));
      } catch (error) {
        if (this.#stopped) return;
        this.#logger.warn({ err: error, table: this.table.topic }, 'reading a table failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** One poll's records into the store, with the positions they reach, in one commit. */
  async #apply(records: Awaited<ReturnType<Consumer['poll']>>): Promise<void> {
    if (records.length === 0) return;
    for (const r of records) {
      this.#positions.set(r.partition, r.offset + 1);
      if (r.key === null) continue;
      const key = r.key.toString('utf8');
      const stored = rowKey(key);
      const had = this.#store.get(stored) !== undefined;
      if (r.value === null) {
        if (had) this.#rows--;
        this.#store.delete(stored);
        this.#cache.delete(key);
        continue;
      }
      let row: unknown;
      try {
        row = this.table.serde.decode(r.value);
      } catch (error) {
        this.#logger.warn(
          { err: error, table: this.table.topic, partition: r.partition, offset: r.offset },
          'skipped a table row its serde cannot read',
        );
        continue;
      }
      if (row === null) {
        // A value that says the row is gone (a CDC delete event before its tombstone).
        if (had) this.#rows--;
        this.#store.delete(stored);
        this.#cache.delete(key);
        continue;
      }
      if (!had) this.#rows++;
      this.#store.put(stored, r.value);
      // A row already in memory is replaced; one that is not stays in the store until looked up.
      if (this.#cache.has(key)) {
        this.#cache.delete(key);
        this.#remember(key, row, r.value.length);
      }
    }
    this.#store.put(
      POSITIONS,
      Buffer.from(JSON.stringify({ positions: [...this.#positions], rows: this.#rows })),
    );
    await this.#store.commit({ changelogOffset: 0, inputOffset: 0 });
  }

  #remember(key: string, row: unknown, bytes: number): void {
    this.#rowBytes += (bytes - this.#rowBytes) / 64;
    this.#cache.set(key, row);
    // A decoded row takes about twice its encoded size, plus the entry.
    const fits = Math.max(1, Math.floor(this.#o.cacheBytes / (this.#rowBytes * 2 + ROW_OVERHEAD_BYTES)));
    for (const old of this.#cache.keys()) {
      if (this.#cache.size <= fits) break;
      this.#cache.delete(old);
    }
  }
}

/** A row's key in the store: 1, then the record key's bytes. */
function rowKey(key: string): Buffer {
  return Buffer.concat([Buffer.from([1]), Buffer.from(key, 'utf8')]);
}
