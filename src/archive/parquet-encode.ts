import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  blobValue,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBTimestampMillisecondsValue,
  type DuckDBType,
  type DuckDBValue,
  listValue,
  structValue,
} from '@duckdb/node-api';
import type { ConsumedRecord } from '../core/index.ts';
import { ARCHIVE_FORMAT } from './manifest.ts';

const COLUMNS = `"partition" INTEGER, "offset" BIGINT, "timestamp" TIMESTAMP_MS, "key" BLOB, "value" BLOB, headers STRUCT("key" VARCHAR, "value" BLOB)[]`;
/** Rows per DuckDB data chunk: its vector size. */
const CHUNK = 2048;

/**
 * Records (of one partition, in offset order) as one Parquet file's bytes, by DuckDB: appended to a
 * temporary table a data chunk at a time, then `COPY … (FORMAT parquet, COMPRESSION zstd)` with the
 * archive format in the file's key-value metadata. zstd's level 1: as small as the default level 3
 * on records (what repeats compresses either way) and a quarter faster. `dir` holds the file on its way.
 */
export async function encodeParquet(
  c: DuckDBConnection,
  dir: string,
  records: readonly ConsumedRecord[],
): Promise<Buffer> {
  const table = `r_${randomUUID().replaceAll('-', '')}`;
  const file = path.join(dir, `${table}.parquet`);
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
            Object.entries(r.headers).map(([key, value]) => structValue({ key, value: blobValue(value) })),
          ),
        ),
      ] as DuckDBValue[][]);
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
    await c.run(
      `COPY ${table} TO ${quote(file)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, KV_METADATA {kappa_archive_format: '${ARCHIVE_FORMAT}'})`,
    );
    return await readFile(file);
  } finally {
    await c.run(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await rm(file, { force: true });
  }
}

function quote(file: string): string {
  return `'${file.replaceAll("'", "''")}'`;
}
