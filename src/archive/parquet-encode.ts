import { constants, crc32, zstdCompressSync } from 'node:zlib';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { ARCHIVE_FORMAT, ARCHIVE_WRITER } from './manifest.ts';
import { type PackedColumns, readInt64 } from './record-pack.ts';

type FileMetaData = Parameters<typeof writeMetadata>[1];
type RowGroup = FileMetaData['row_groups'][number];
type ColumnChunk = RowGroup['columns'][number];
type Statistics = NonNullable<NonNullable<ColumnChunk['meta_data']>['statistics']>;

/**
 * The archive file's schema: what DuckDB's `COPY` of `"partition" INTEGER, "offset" BIGINT,
 * "timestamp" TIMESTAMP_MS, "key" BLOB, "value" BLOB, headers STRUCT("key" VARCHAR, "value" BLOB)[]`
 * writes (the first files were written so), so SQL over the archive sees one table over all files.
 */
const SCHEMA: FileMetaData['schema'] = [
  { name: 'kappa_archive', num_children: 6 },
  { name: 'partition', type: 'INT32', repetition_type: 'REQUIRED' },
  { name: 'offset', type: 'INT64', repetition_type: 'REQUIRED' },
  {
    name: 'timestamp',
    type: 'INT64',
    repetition_type: 'REQUIRED',
    converted_type: 'TIMESTAMP_MILLIS',
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MILLIS' },
  },
  { name: 'key', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
  { name: 'value', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
  { name: 'headers', repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'key', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', converted_type: 'UTF8' },
  { name: 'value', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
];

/** Rows per row group: DuckDB's own default, what its reader splits work by. */
const ROW_GROUP = 122_880;
/** Uncompressed bytes of values a page holds at most (unless one value is larger). */
const PAGE_BYTES = 1024 * 1024;
/** A header's definition level: the list, the entry and its name are all there. */
const HEADER_DEFINED = 4;

/** One leaf column of the file, over all its rows: its PLAIN values and its levels. */
interface Leaf {
  path: string[];
  type: 'INT32' | 'INT64' | 'BYTE_ARRAY';
  maxDef: number;
  data: Uint8Array;
  /** Where each row's values start in `data` (and, at `rows`, where they end). */
  byteStart: Uint32Array;
  /** Each row's first level (null: one level per row). */
  levelStart: Uint32Array | null;
  rep: Uint8Array | null;
  def: Uint8Array | null;
  statistics: (from: number, to: number, nulls: number) => Statistics;
}

/**
 * Records (of one partition, in offset order, packed by packColumns) as one Parquet file's bytes.
 *
 * Written by hand on the hot path, with hyparquet-writer's page header, level and footer encoders:
 * the archive's keys and values arrive already as PLAIN pages (record-pack.ts), so a page is one
 * zstd call on a view of them, without per-value work. Handed to hyparquet-writer as values, 65,000
 * 1 KiB records took 4.3–6.5 µs each to encode, four times the compression's own cost, and archiving
 * did not keep up with the log (bench/archive.ts); DuckDB's appender and COPY took 7 µs.
 * Pages are DATA_PAGE_V2 (levels outside the compressed part), as hyparquet-writer writes them;
 * zstd at level 1 is as small as level 3 on records and a quarter faster.
 */
export function encodeParquet(columns: PackedColumns): ArrayBuffer {
  const n = columns.count;
  const leaves = [...flatLeaves(columns), ...headerLeaves(columns)];
  const out = new Parts();
  out.push(MAGIC);
  const rowGroups: RowGroup[] = [];
  for (let from = 0; from < n; from += ROW_GROUP) {
    const to = Math.min(n, from + ROW_GROUP);
    const start = out.offset;
    const chunks = leaves.map((leaf) => writeChunk(out, leaf, from, to));
    rowGroups.push({
      columns: chunks,
      total_byte_size: chunks.reduce((sum, c) => sum + c.meta_data!.total_uncompressed_size, 0n),
      num_rows: BigInt(to - from),
      file_offset: BigInt(start),
      total_compressed_size: BigInt(out.offset - start),
    });
  }
  const footer = new ByteWriter();
  writeMetadata(footer, {
    version: 2,
    created_by: ARCHIVE_WRITER,
    schema: SCHEMA,
    num_rows: BigInt(n),
    row_groups: rowGroups,
    key_value_metadata: [{ key: 'kappa_archive_format', value: String(ARCHIVE_FORMAT) }],
    metadata_length: 0,
  });
  out.push(footer.getBytes());
  out.push(MAGIC);
  return out.join();
}

const MAGIC = new TextEncoder().encode('PAR1');

function flatLeaves(c: PackedColumns): Leaf[] {
  const n = c.count;
  const fixed = (width: number) => Uint32Array.from({ length: n + 1 }, (_, i) => i * width);
  const offsetAt = int64At(c.offsets);
  const timestampAt = int64At(c.timestamps);
  const partitions = new Uint8Array(4 * n);
  new DataView(partitions.buffer).setInt32(0, c.partition, true);
  for (let w = 4; w < partitions.length; w *= 2) partitions.copyWithin(w, 0, w);
  const required = (name: string, type: Leaf['type'], data: Uint8Array, stats: Leaf['statistics']): Leaf => ({
    path: [name],
    type,
    maxDef: 0,
    data,
    byteStart: fixed(type === 'INT32' ? 4 : 8),
    levelStart: null,
    rep: null,
    def: null,
    statistics: stats,
  });
  const optional = (name: string, present: Uint8Array, data: Uint8Array): Leaf => ({
    path: [name],
    type: 'BYTE_ARRAY',
    maxDef: 1,
    data,
    byteStart: plainStarts(data, present),
    levelStart: null,
    rep: null,
    def: present,
    statistics: (_from, _to, nulls) => ({ null_count: BigInt(nulls) }),
  });
  return [
    required('partition', 'INT32', partitions, () => ({
      null_count: 0n,
      min_value: c.partition,
      max_value: c.partition,
    })),
    // In offset order: the first and the last are the least and the greatest.
    required('offset', 'INT64', c.offsets, (from, to) => ({
      null_count: 0n,
      min_value: offsetAt(from),
      max_value: offsetAt(to - 1),
    })),
    required('timestamp', 'INT64', c.timestamps, (from, to) => {
      let min = timestampAt(from);
      let max = min;
      for (let i = from + 1; i < to; i++) {
        const t = timestampAt(i);
        if (t < min) min = t;
        else if (t > max) max = t;
      }
      return { null_count: 0n, min_value: min, max_value: max };
    }),
    optional('key', c.keyPresent, c.keys),
    optional('value', c.valuePresent, c.values),
  ];
}

/** The i-th of PLAIN INT64 values, as a number. */
function int64At(b: Uint8Array): (i: number) => number {
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  return (i) => readInt64(view, 8 * i);
}

/** Where each row's value starts in a PLAIN BYTE_ARRAY of the rows that have one. */
function plainStarts(data: Uint8Array, present: Uint8Array): Uint32Array {
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const starts = new Uint32Array(present.length + 1);
  let at = 0;
  for (let i = 0; i < present.length; i++) {
    starts[i] = at;
    if (present[i]) at += 4 + view.getUint32(at, true);
  }
  starts[present.length] = at;
  return starts;
}

/**
 * The headers' two leaves (`headers.list.element.key` and `.value`): an empty list is one level
 * (repetition 0, definition 1), a list of k headers k levels (repetition 0 then 1, definition 4).
 */
function headerLeaves(c: PackedColumns): Leaf[] {
  const n = c.count;
  let levels = n;
  let names = 0;
  let values = 0;
  for (const [, entries] of c.headers) {
    levels += entries.length - 1;
    for (const [k, v] of entries) {
      names += 4 + k.length;
      values += 4 + v.length;
    }
  }
  const rep = new Uint8Array(levels);
  const def = new Uint8Array(levels).fill(1);
  const levelStart = new Uint32Array(n + 1);
  const nameData = new Uint8Array(names);
  const valueData = new Uint8Array(values);
  const nameStart = new Uint32Array(n + 1);
  const valueStart = new Uint32Array(n + 1);
  let level = 0;
  let nameAt = 0;
  let valueAt = 0;
  const put = (into: Uint8Array, at: number, b: Uint8Array) => {
    new DataView(into.buffer, into.byteOffset).setUint32(at, b.length, true);
    into.set(b, at + 4);
    return at + 4 + b.length;
  };
  let next = 0;
  for (let row = 0; row < n; row++) {
    levelStart[row] = level;
    nameStart[row] = nameAt;
    valueStart[row] = valueAt;
    const entries = c.headers[next]?.[0] === row ? c.headers[next++]![1] : null;
    if (!entries) {
      level++;
      continue;
    }
    for (let e = 0; e < entries.length; e++) {
      rep[level] = e === 0 ? 0 : 1;
      def[level++] = HEADER_DEFINED;
      nameAt = put(nameData, nameAt, entries[e]![0]);
      valueAt = put(valueData, valueAt, entries[e]![1]);
    }
  }
  levelStart[n] = level;
  nameStart[n] = nameAt;
  valueStart[n] = valueAt;
  const leaf = (name: string, data: Uint8Array, byteStart: Uint32Array): Leaf => ({
    path: ['headers', 'list', 'element', name],
    type: 'BYTE_ARRAY',
    maxDef: HEADER_DEFINED,
    data,
    byteStart,
    levelStart,
    rep,
    def,
    // A reader skips the column when every level is null: no record of the file has a header.
    statistics: (_from, _to, nulls) => ({ null_count: BigInt(nulls) }),
  });
  return [leaf('key', nameData, nameStart), leaf('value', valueData, valueStart)];
}

/** One leaf's rows `from`..`to` as a column chunk: pages of at most PAGE_BYTES of values each. */
function writeChunk(out: Parts, leaf: Leaf, from: number, to: number): ColumnChunk {
  const start = out.offset;
  let uncompressed = 0;
  let nulls = 0;
  for (let row = from; row < to; ) {
    let end = row + 1;
    while (end < to && leaf.byteStart[end + 1]! - leaf.byteStart[row]! <= PAGE_BYTES) end++;
    const page = writePage(out, leaf, row, end);
    uncompressed += page.uncompressed;
    nulls += page.nulls;
    row = end;
  }
  const levelsOf = (row: number) => (leaf.levelStart ? leaf.levelStart[row]! : row);
  return {
    file_offset: BigInt(start),
    meta_data: {
      type: leaf.type,
      encodings: leaf.maxDef > 0 ? ['PLAIN', 'RLE'] : ['PLAIN'],
      path_in_schema: leaf.path,
      codec: 'ZSTD',
      num_values: BigInt(levelsOf(to) - levelsOf(from)),
      total_uncompressed_size: BigInt(uncompressed),
      total_compressed_size: BigInt(out.offset - start),
      data_page_offset: BigInt(start),
      statistics: leaf.statistics(from, to, nulls),
    },
  };
}

function writePage(
  out: Parts,
  leaf: Leaf,
  from: number,
  to: number,
): { uncompressed: number; nulls: number } {
  const l0 = leaf.levelStart ? leaf.levelStart[from]! : from;
  const l1 = leaf.levelStart ? leaf.levelStart[to]! : to;
  const levels = new ByteWriter();
  let repLength = 0;
  let defLength = 0;
  let nulls = 0;
  if (leaf.rep) repLength = writeRleBitPackedHybrid(levels, leaf.rep.subarray(l0, l1), 1);
  if (leaf.def) {
    const def = leaf.def.subarray(l0, l1);
    for (let i = 0; i < def.length; i++) if (def[i]! < leaf.maxDef) nulls++;
    defLength = writeRleBitPackedHybrid(levels, def, Math.ceil(Math.log2(leaf.maxDef + 1)));
  }
  const data = leaf.data.subarray(leaf.byteStart[from], leaf.byteStart[to]);
  const compressed = zstd(data);
  const header = new ByteWriter();
  writePageHeader(header, {
    type: 'DATA_PAGE_V2',
    uncompressed_page_size: levels.offset + data.length,
    compressed_page_size: levels.offset + compressed.length,
    // Parquet's page checksum (over the page as stored: levels, then compressed values), so that a
    // damaged file is found by name, not read as other records; thrift's i32 is signed.
    crc: crc32(compressed, crc32(levels.getBytes())) | 0,
    data_page_header_v2: {
      num_values: l1 - l0,
      num_nulls: nulls,
      num_rows: to - from,
      encoding: 'PLAIN',
      definition_levels_byte_length: defLength,
      repetition_levels_byte_length: repLength,
      is_compressed: true,
    },
  });
  out.push(header.getBytes());
  out.push(levels.getBytes());
  out.push(compressed);
  return { uncompressed: header.offset + levels.offset + data.length, nulls };
}

function zstd(input: Uint8Array): Uint8Array {
  const out = zstdCompressSync(input, { params: { [constants.ZSTD_c_compressionLevel]: 1 } });
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The file as parts, joined once at the end: growing one buffer would copy it again and again. */
class Parts {
  readonly #parts: Uint8Array[] = [];
  offset = 0;

  push(part: Uint8Array): void {
    this.#parts.push(part);
    this.offset += part.length;
  }

  join(): ArrayBuffer {
    const file = new Uint8Array(this.offset);
    let at = 0;
    for (const part of this.#parts) {
      file.set(part, at);
      at += part.length;
    }
    return file.buffer;
  }
}
