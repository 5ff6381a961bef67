import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { ArchiveCorruptError, ArchiveFormatError, ParquetFiles } from '../../src/archive/index.ts';
import type { ConsumedRecord } from '../../src/core/index.ts';
import { seededRandom } from '../support/random.ts';
import { tempDir } from '../support/temp-dir.ts';

const files = new ParquetFiles();
const temp = await tempDir('kappa-parquet-');
afterAll(async () => {
  await files.close();
  await temp.remove();
});

/**
 * Records that reach every part of the layout: nulls, empty and 40 KiB values (pages end at 1 MiB,
 * row groups at 122,880 rows), headers on some records (also empty ones), offsets past 2^32 and
 * timestamps before 1970.
 */
function records(n: number, seed: number): ConsumedRecord[] {
  const random = seededRandom(seed);
  let offset = 2 ** 33 + Math.floor(random() * 1000);
  return Array.from({ length: n }, (_, i) => {
    const size = random() < 0.001 ? 40_000 : Math.floor(random() * 300);
    const headers: Record<string, Buffer> = {};
    if (random() < 0.2)
      for (let h = Math.floor(random() * 4); h >= 0; h--) headers[`h${h}-ü`] = Buffer.alloc(h, 65 + h);
    return {
      topic: 'events',
      partition: 7,
      offset: (offset += 1 + Math.floor(random() * 3)),
      timestamp: random() < 0.01 ? -Math.floor(random() * 1e6) : 1_750_000_000_000 + i,
      key: random() < 0.1 ? null : Buffer.from(`k${Math.floor(random() * 1000)}`),
      value: random() < 0.05 ? null : Buffer.alloc(size, i % 251),
      headers,
    };
  });
}

function plain(r: ConsumedRecord) {
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key?.toString('hex') ?? null,
    value: r.value?.toString('hex') ?? null,
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString('hex')])),
  };
}

describe('archive files', () => {
  it('read back exactly what was written, and DuckDB reads them the same', async () => {
    const seed = Date.now();
    console.log(`parquet round trip seed ${seed}`);
    const written = records(300_000, seed);
    const body = await files.write(written);
    const read = await files.read('events/dt=2026-01-01/hour=00/7-0-1.parquet', body);
    expect(read.length).toBe(written.length);
    const same = (i: number) => JSON.stringify(plain(read[i]!)) === JSON.stringify(plain(written[i]!));
    const differs = written.findIndex((_, i) => !same(i));
    expect(differs >= 0 ? [plain(read[differs]!), plain(written[differs]!)] : 'all the same').toBe(
      'all the same',
    );
    expect(read.every((r) => r.topic === 'events')).toBe(true);

    const file = path.join(temp.dir, 'round-trip.parquet');
    await writeFile(file, body);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const [row] = (
      await c.runAndReadAll(
        `SELECT count(*)::INTEGER n, count(key)::INTEGER keys, sum(octet_length(value))::BIGINT bytes,
                sum(len(headers))::INTEGER headers, min("offset")::BIGINT first_offset, min("timestamp")::VARCHAR earliest
         FROM '${file}'`,
      )
    ).getRowObjectsJS();
    expect(row).toEqual({
      n: written.length,
      keys: written.filter((r) => r.key !== null).length,
      bytes: BigInt(written.reduce((s, r) => s + (r.value?.length ?? 0), 0)),
      headers: written.reduce((s, r) => s + Object.keys(r.headers).length, 0),
      first_offset: BigInt(written[0]!.offset),
      earliest: new Date(written.reduce((m, r) => Math.min(m, r.timestamp), Infinity))
        .toISOString()
        .replace('T', ' ')
        .replace(/\.?0*Z$/, ''),
    });
    c.closeSync();
  });

  it('reads back files where a column holds no value at all: no keys, only tombstones', async () => {
    const written = records(3000, 7).map((r, i) => ({ ...r, key: null, value: i % 2 ? null : r.value }));
    const tombstones = written.map((r) => ({ ...r, value: null, headers: {} }));
    for (const file of [written, tombstones]) {
      const read = await files.write(file).then((body) => files.read('events/nulls.parquet', body));
      expect(read.map(plain)).toEqual(file.map(plain));
    }
  });

  it('reads a file an older Kappa wrote with DuckDB', async () => {
    const written = records(5000, 42);
    const file = path.join(temp.dir, 'duckdb.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(
      `CREATE TABLE r ("partition" INTEGER, "offset" BIGINT, "timestamp" TIMESTAMP_MS, "key" BLOB, "value" BLOB, headers STRUCT("key" VARCHAR, "value" BLOB)[])`,
    );
    const hex = (b: Buffer | null) => (b === null ? 'NULL' : `from_hex('${b.toString('hex')}')`);
    for (let i = 0; i < written.length; i += 500)
      await c.run(
        `INSERT INTO r VALUES ${written
          .slice(i, i + 500)
          .map(
            (r) =>
              `(${r.partition}, ${r.offset}, make_timestamp_ms(${r.timestamp}), ${hex(r.key)}, ${hex(r.value)}, [${Object.entries(
                r.headers,
              )
                .map(([k, v]) => `{'key': '${k}', 'value': ${hex(v)}}`)
                .join(', ')}])`,
          )
          .join(', ')}`,
      );
    await c.run(
      `COPY r TO '${file}' (FORMAT parquet, COMPRESSION zstd, KV_METADATA {kappa_archive_format: '1'})`,
    );
    c.closeSync();
    const read = await files.read('events/old.parquet', await readFile(file));
    expect(read.map(plain)).toEqual(written.map(plain));
  });

  it('names a damaged file: any changed byte is found, or the file reads as it was', async () => {
    const seed = Date.now();
    console.log(`parquet damage seed ${seed}`);
    const random = seededRandom(seed);
    const written = records(20_000, seed);
    const body = await files.write(written);
    const expected = written.map(plain);
    let found = 0;
    for (let round = 0; round < 200; round++) {
      const damaged = Buffer.from(body);
      const at = Math.floor(random() * damaged.length);
      damaged[at] = damaged[at]! ^ (1 + Math.floor(random() * 255));
      try {
        const read = await files.read('events/damaged.parquet', damaged);
        expect(read.map(plain), `byte ${at} changed`).toEqual(expected);
      } catch (error) {
        expect(error, `byte ${at} changed`).toSatisfy(
          (e) => e instanceof ArchiveCorruptError || e instanceof ArchiveFormatError,
        );
        expect((error as Error).message).toContain('events/damaged.parquet');
        found++;
      }
    }
    // Nearly all bytes are compressed values, whose checksums find any change.
    expect(found).toBeGreaterThan(150);
    await expect(files.read('events/cut.parquet', body.subarray(0, body.length / 2))).rejects.toThrow(
      ArchiveCorruptError,
    );
  });
});
