import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  blobValue,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBTimestampMillisecondsValue,
  type DuckDBType,
  type DuckDBValue,
  listValue,
  structValue,
} from '@duckdb/node-api';
import type { ConsumedRecord } from '../core/index.ts';
import { ArchiveCorruptError, ArchiveFormatError } from './archive-errors.ts';
import { ARCHIVE_FORMAT, checkFormat } from './manifest.ts';

const COLUMNS = `"partition" INTEGER, "offset" BIGINT, "timestamp" TIMESTAMP_MS, "key" BLOB, "value" BLOB, headers STRUCT("key" VARCHAR, "value" BLOB)[]`;
/** Rows per DuckDB data chunk: its vector size. */
const CHUNK = 2048;

/**
 * Archive files as Parquet, written and read by an in-memory DuckDB (`COPY … (FORMAT parquet,
 * COMPRESSION zstd)` and `read_parquet`): no hand-written Parquet. Each file carries the archive
 * format in its key-value metadata, so a file of a newer format is refused, not misread.
 */
export class ParquetFiles {
  readonly #db: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #dir: string;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(db: DuckDBInstance, connection: DuckDBConnection, dir: string) {
    this.#db = db;
    this.#connection = connection;
    this.#dir = dir;
  }

  /** `dir`: a folder for files on their way to and from the store. */
  static async open(dir: string): Promise<ParquetFiles> {
    await mkdir(dir, { recursive: true });
    const db = await DuckDBInstance.create(':memory:', { threads: '2' });
    return new ParquetFiles(db, await db.connect(), dir);
  }

  /** The records (of one partition, in offset order) as one Parquet file's bytes. */
  write(records: ConsumedRecord[]): Promise<Buffer> {
    return this.#serial(async () => {
      const c = this.#connection;
      const table = `r_${randomUUID().replaceAll('-', '')}`;
      const file = path.join(this.#dir, `${table}.parquet`);
      await c.run(`CREATE TEMP TABLE ${table} (${COLUMNS})`);
      try {
        const appender = await c.createAppender(table);
        const types: DuckDBType[] = Array.from({ length: 6 }, (_, i) => appender.columnType(i));
        for (let start = 0; start < records.length; start += CHUNK) {
          const slice = records.slice(start, start + CHUNK);
          const chunk = DuckDBDataChunk.create(types, slice.length);
          chunk.setColumns([
            slice.map((r) => r.partition),
            slice.map((r) => BigInt(r.offset)),
            slice.map((r) => new DuckDBTimestampMillisecondsValue(BigInt(Math.trunc(r.timestamp)))),
            slice.map((r) => (r.key === null ? null : blobValue(r.key))),
            slice.map((r) => (r.value === null ? null : blobValue(r.value))),
            slice.map((r) =>
              listValue(
                Object.entries(r.headers).map(([key, value]) =>
                  structValue({ key, value: blobValue(value) }),
                ),
              ),
            ),
          ] as DuckDBValue[][]);
          appender.appendDataChunk(chunk);
        }
        appender.closeSync();
        await c.run(
          `COPY ${table} TO ${quote(file)} (FORMAT parquet, COMPRESSION zstd, KV_METADATA {kappa_archive_format: '${ARCHIVE_FORMAT}'})`,
        );
        return await readFile(file);
      } finally {
        await c.run(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
        await rm(file, { force: true });
      }
    });
  }

  /** The records of an archive file's bytes, in offset order; `key` names it in errors. */
  read(key: string, body: Buffer): Promise<ConsumedRecord[]> {
    return this.#serial(async () => {
      const file = path.join(this.#dir, `${randomUUID()}.parquet`);
      await writeFile(file, body);
      try {
        return await this.#readFile(key, file);
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  async #readFile(key: string, file: string): Promise<ConsumedRecord[]> {
    const c = this.#connection;
    const topic = key.split('/')[0]!;
    let rows: DuckDBValue[][];
    try {
      const meta = await c.runAndReadAll(
        `SELECT value FROM parquet_kv_metadata(${quote(file)}) WHERE decode(key) = 'kappa_archive_format'`,
      );
      const format = Number(
        Buffer.from((meta.getRows()[0]?.[0] as { bytes: Uint8Array } | undefined)?.bytes ?? []).toString(),
      );
      if (!Number.isInteger(format) || format < 1)
        throw new ArchiveFormatError(key, 'not a Kappa archive file');
      checkFormat(key, format);
      const result = await c.runAndReadAll(
        `SELECT "partition", "offset", epoch_ms("timestamp"), "key", "value", headers FROM read_parquet(${quote(file)}) ORDER BY "offset"`,
      );
      rows = result.getRows();
    } catch (error) {
      if (error instanceof ArchiveFormatError) throw error;
      throw new ArchiveCorruptError(key, (error as Error).message, { cause: error });
    }
    return rows.map(([partition, offset, timestamp, k, value, headers]) => {
      const record: ConsumedRecord = {
        topic,
        partition: Number(partition),
        offset: Number(offset),
        timestamp: Number(timestamp),
        key: bytes(k),
        value: bytes(value),
        headers: {},
      };
      for (const item of (headers as { items: Array<{ entries: { key: string; value: unknown } }> }).items)
        record.headers[item.entries.key] = bytes(item.entries.value) ?? Buffer.alloc(0);
      return record;
    });
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    this.#connection.closeSync();
    this.#db.closeSync();
  }

  /** One statement at a time on the one connection. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next;
  }
}

function bytes(value: unknown): Buffer | null {
  if (value === null || value === undefined) return null;
  return Buffer.from((value as { bytes: Uint8Array }).bytes);
}

function quote(file: string): string {
  return `'${file.replaceAll("'", "''")}'`;
}
