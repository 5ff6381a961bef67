import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
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
import { parquetMetadata, parquetRead } from 'hyparquet';
import { ConnectionPool, type ConsumedRecord } from '../core/index.ts';
import { ArchiveCorruptError, ArchiveFormatError } from './archive-errors.ts';
import { ARCHIVE_FORMAT, checkFormat } from './manifest.ts';

const COLUMN_NAMES = ['partition', 'offset', 'timestamp', 'key', 'value', 'headers'];
const COLUMNS = `"partition" INTEGER, "offset" BIGINT, "timestamp" TIMESTAMP_MS, "key" BLOB, "value" BLOB, headers STRUCT("key" VARCHAR, "value" BLOB)[]`;
/** Rows per DuckDB data chunk: its vector size. */
const CHUNK = 2048;

/**
 * Archive files as Parquet: written by an in-memory DuckDB (`COPY … (FORMAT parquet, COMPRESSION
 * zstd)`), read back by hyparquet; no hand-written Parquet. Each file carries the archive
 * format in its key-value metadata, so a file of a newer format is refused, not misread.
 */
export class ParquetFiles {
  readonly #db: DuckDBInstance;
  /** Files are written a few at a time: one builds its chunks while DuckDB compresses another. */
  readonly #connections: ConnectionPool<DuckDBConnection>;
  readonly #dir: string;

  private constructor(db: DuckDBInstance, connections: DuckDBConnection[], dir: string) {
    this.#db = db;
    this.#connections = new ConnectionPool(connections, () => new Error('The Parquet writer is closed'));
    this.#dir = dir;
  }

  /** `dir`: a folder for files on their way to the store; `writers`: files written at once. */
  static async open(dir: string, writers = 4): Promise<ParquetFiles> {
    await mkdir(dir, { recursive: true });
    const db = await DuckDBInstance.create(':memory:', { threads: String(writers) });
    const connections: DuckDBConnection[] = [];
    for (let i = 0; i < writers; i++) connections.push(await db.connect());
    return new ParquetFiles(db, connections, dir);
  }

  /** The records (of one partition, in offset order) as one Parquet file's bytes. */
  write(records: ConsumedRecord[]): Promise<Buffer> {
    return this.#connections.use(async (c) => {
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

  /**
   * The records of an archive file's bytes, in offset order; `key` names it in errors. Read with
   * hyparquet, a Parquet reader in JavaScript, and Node's own zstd: it hands values over as views of
   * the decompressed pages, five times faster than taking them out of DuckDB's vectors one by one
   * (bench/archive.ts), and needs no temporary file.
   */
  async read(key: string, body: Buffer): Promise<ConsumedRecord[]> {
    const topic = key.split('/')[0]!;
    const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer;
    let rows: unknown[][] = [];
    try {
      const meta = parquetMetadata(file);
      const format = Number(meta.key_value_metadata?.find((kv) => kv.key === 'kappa_archive_format')?.value);
      if (!Number.isInteger(format) || format < 1)
        throw new ArchiveFormatError(key, 'not a Kappa archive file');
      checkFormat(key, format);
      const names = meta.schema.slice(1).map((s) => s.name);
      if (COLUMN_NAMES.some((c, i) => names[i] !== c))
        throw new ArchiveCorruptError(key, `has columns ${names.join(', ')}, not ${COLUMN_NAMES.join(', ')}`);
      // Most records have no headers: when no row group holds one (every list entry is null in the
      // statistics), the column is not read at all, as assembling empty lists costs as much as the rest.
      const headers = meta.row_groups.some((g) =>
        g.columns.some((c) => {
          const m = c.meta_data;
          return (
            m?.path_in_schema.join('.') === 'headers.list.element.key' &&
            Number(m.statistics?.null_count ?? -1) !== Number(m.num_values)
          );
        }),
      );
      await parquetRead({
        file,
        metadata: meta,
        ...(headers ? {} : { columns: COLUMN_NAMES.slice(0, 5) }),
        compressors: { ZSTD: unzstd },
        utf8: false,
        rowFormat: 'array',
        onComplete: (data) => {
          rows = data as unknown[][];
        },
      });
    } catch (error) {
      if (error instanceof ArchiveFormatError || error instanceof ArchiveCorruptError) throw error;
      throw new ArchiveCorruptError(key, (error as Error).message, { cause: error });
    }
    const records = new Array<ConsumedRecord>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [partition, offset, timestamp, k, v, headers] = rows[i] as [
        number,
        bigint,
        Date,
        Uint8Array | null,
        Uint8Array | null,
        Array<{ key: string | Uint8Array; value: Uint8Array | null }> | null,
      ];
      const record: ConsumedRecord = {
        topic,
        partition,
        offset: Number(offset),
        timestamp: timestamp.getTime(),
        key: view(k),
        value: view(v),
        headers: {},
      };
      for (const h of headers ?? [])
        record.headers[typeof h.key === 'string' ? h.key : Buffer.from(h.key).toString()] =
          view(h.value) ?? Buffer.alloc(0);
      // A file is written in offset order; one that is not is damaged.
      if (i > 0 && record.offset <= records[i - 1]!.offset)
        throw new ArchiveCorruptError(key, `offsets out of order at row ${i}`);
      records[i] = record;
    }
    return records;
  }

  async close(): Promise<void> {
    await this.#connections.close((c) => c.closeSync());
    this.#db.closeSync();
  }
}

/** The largest page a file may claim: a hostile file's page header must not make us allocate gigabytes. */
const MAX_PAGE_BYTES = 256 * 1024 * 1024;

function unzstd(input: Uint8Array, outputLength: number): Uint8Array {
  if (outputLength > MAX_PAGE_BYTES) throw new Error(`a page claims ${outputLength} bytes`);
  // One output chunk of the page's size: the default 16 KiB chunks are concatenated at the end.
  const size = Math.max(outputLength, 64);
  const out = zstdDecompressSync(input, { maxOutputLength: size, chunkSize: size });
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Bytes of a page as a Buffer without a copy (it keeps the page alive while the record lives). */
function view(b: Uint8Array | null | undefined): Buffer | null {
  return b === null || b === undefined ? null : Buffer.from(b.buffer, b.byteOffset, b.length);
}

function quote(file: string): string {
  return `'${file.replaceAll("'", "''")}'`;
}
