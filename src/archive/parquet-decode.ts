import { crc32, zstdDecompressSync } from 'node:zlib';
import { type FileMetaData, parquetMetadata, parquetRead } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import type { ConsumedRecord } from '../core/index.ts';
import { ArchiveCorruptError, ArchiveFormatError } from './archive-errors.ts';
import { ARCHIVE_WRITER, checkFormat } from './manifest.ts';
import { readInt64 } from './record-pack.ts';

const COLUMN_NAMES = ['partition', 'offset', 'timestamp', 'key', 'value', 'headers'];

/**
 * The records of an archive file, in file order; `key` names it in errors. A file this Kappa wrote
 * is read by decodeOwnFile, any other (an older Kappa's, written by DuckDB) by hyparquet.
 */
export async function readArchiveFile(key: string, body: Buffer): Promise<ConsumedRecord[]> {
  // No GeoParquet: hyparquet's marking of geo columns loops forever on a damaged schema (a
  // negative child count), and an archive has none.
  const meta = parquetMetadata(body, { geoparquet: false });
  const format = Number(meta.key_value_metadata?.find((kv) => kv.key === 'kappa_archive_format')?.value);
  if (!Number.isInteger(format) || format < 1) throw new ArchiveFormatError(key, 'not a Kappa archive file');
  checkFormat(key, format);
  const names = meta.schema.slice(1).map((s) => s.name);
  if (COLUMN_NAMES.some((c, i) => names[i] !== c))
    throw new ArchiveCorruptError(key, `has columns ${names.join(', ')}, not ${COLUMN_NAMES.join(', ')}`);
  const topic = key.split('/')[0]!;
  return decodeOwnFile(topic, body, meta) ?? (await readAnyFile(topic, body, meta));
}

/** A file's pages of one leaf column, decoded: levels per value, PLAIN values as one view each. */
interface LeafPages {
  rep: Uint8Array[];
  def: Uint8Array[];
  values: Buffer[];
  /** Each page's count of levels (of values, in a flat column). */
  counts: number[];
}

/**
 * The records of a file parquet-encode.ts wrote, in file order; null for another writer's file
 * (an older Kappa's), which hyparquet then reads. Throws on a damaged file.
 *
 * Hand-written for the layout that writer makes, with hyparquet's page-header and level decoders:
 * every page is DATA_PAGE_V2, PLAIN, zstd, so keys and values are views of the decompressed pages
 * and a record is built in one pass. hyparquet's general path took about 2.5 µs per 1 KiB record
 * (decoding into arrays, then assembling columns, then converting them to records), and replay from
 * the archive stayed at half the speed of reading the log (bench/archive.ts).
 */
function decodeOwnFile(topic: string, body: Buffer, meta: FileMetaData): ConsumedRecord[] | null {
  if (meta.created_by !== ARCHIVE_WRITER) return null;
  const leaves = new Map<string, LeafPages>();
  for (const group of meta.row_groups)
    for (const chunk of group.columns) {
      const m = chunk.meta_data;
      // A file of this writer's laid out otherwise is damaged: hyparquet would misread it.
      const path = m?.path_in_schema.join('.') ?? '';
      if (m?.codec !== 'ZSTD' || !LEAVES.includes(path)) throw new Error(`column ${path} is not as written`);
      let leaf = leaves.get(path);
      if (!leaf) leaves.set(path, (leaf = { rep: [], def: [], values: [], counts: [] }));
      const start = Number(m.data_page_offset);
      const end = start + Number(m.total_compressed_size);
      if (start < 4 || end > body.length - 8) throw new Error(`column ${path} lies outside the file`);
      const reader = { view: new DataView(body.buffer, body.byteOffset, end), offset: start };
      while (reader.offset < end) {
        const header = parquetHeader(reader);
        const page = header.data_page_header_v2;
        if (header.type !== 'DATA_PAGE_V2' || !page || page.encoding !== 'PLAIN' || !page.is_compressed)
          throw new Error(`a page of ${path} is not as written`);
        const dataStart = reader.offset;
        const pageEnd = dataStart + header.compressed_page_size;
        if (!(header.compressed_page_size >= 0 && pageEnd <= end))
          throw new Error(`a page of ${path} runs past its column`);
        // Every page of this writer's has a checksum: one without is damaged.
        if (header.crc === undefined || (crc32(body.subarray(dataStart, pageEnd)) | 0) !== header.crc)
          throw new Error(`a page of ${path} fails its checksum`);
        const rep = levels(reader, page.repetition_levels_byte_length, page.num_values, 1);
        // The bit width of the greatest level: a header's definition goes up to 4, the rest to 1.
        const maxDef = path.startsWith('headers.') ? 4 : 1;
        const def = levels(reader, page.definition_levels_byte_length, page.num_values, maxDef === 4 ? 3 : 1);
        // What the header says must be what the levels hold (the header lies outside the checksum).
        let nulls = 0;
        for (let i = 0; i < def.length; i++) if (def[i]! < maxDef) nulls++;
        let rows = rep.length > 0 ? 0 : page.num_values;
        for (let i = 0; i < rep.length; i++) if (rep[i] === 0) rows++;
        if (nulls !== page.num_nulls || rows !== page.num_rows)
          throw new Error(`a page of ${path} holds other levels than its header says`);
        leaf.rep.push(rep);
        leaf.def.push(def);
        leaf.counts.push(page.num_values);
        reader.offset = dataStart + page.repetition_levels_byte_length + page.definition_levels_byte_length;
        const compressed = body.subarray(reader.offset, pageEnd);
        const length = header.uncompressed_page_size - (reader.offset - dataStart);
        // A page with no values (every key of it null) holds zstd's frame of nothing.
        const data = length > 0 ? unzstd(compressed, length) : compressed.subarray(0, 0);
        leaf.values.push(Buffer.from(data.buffer, data.byteOffset, data.length));
        reader.offset = pageEnd;
      }
    }
  if (leaves.size !== LEAVES.length)
    throw new Error(`the file has ${leaves.size} columns, not ${LEAVES.length}`);
  const rows = Number(meta.num_rows);
  // Every leaf is there: each column is one of LEAVES, and there are as many.
  const leaf = (path: string) => leaves.get(path)!;
  const partitions = fixed(leaf('partition'), rows, 4, (v, at) => v.getInt32(at, true));
  const offsets = fixed(leaf('offset'), rows, 8, readInt64);
  const timestamps = fixed(leaf('timestamp'), rows, 8, readInt64);
  const keys = optional(leaf('key'), rows);
  const values = optional(leaf('value'), rows);
  const headers = headerLists(leaf('headers.list.element.key'), leaf('headers.list.element.value'), rows);
  const records = new Array<ConsumedRecord>(rows);
  for (let i = 0; i < rows; i++)
    records[i] = {
      topic,
      partition: partitions[i]!,
      offset: offsets[i]!,
      timestamp: timestamps[i]!,
      key: keys[i]!,
      value: values[i]!,
      headers: headers.get(i) ?? {},
    };
  return records;
}

/** The leaf columns parquet-encode.ts writes, each in every row group. */
const LEAVES = [
  'partition',
  'offset',
  'timestamp',
  'key',
  'value',
  'headers.list.element.key',
  'headers.list.element.value',
];

/** A page's levels (the hybrid RLE of `bytes` bytes); none (empty) where it has none. */
function levels(reader: { view: DataView; offset: number }, bytes: number, count: number, width: number) {
  const out = new Uint8Array(bytes > 0 ? count : 0);
  if (bytes > 0) readRleBitPackedHybrid(reader, width, out, bytes);
  return out;
}

/** A required column's values, `rows` of them over its pages. */
function fixed(
  leaf: LeafPages,
  rows: number,
  width: number,
  read: (page: DataView, at: number) => number,
): Float64Array {
  const out = new Float64Array(rows);
  let row = 0;
  for (let p = 0; p < leaf.values.length; p++) {
    const page = leaf.values[p]!;
    if (page.length !== leaf.counts[p]! * width || row + leaf.counts[p]! > rows)
      throw new Error('a page holds other values than its header says');
    const view = new DataView(page.buffer, page.byteOffset, page.length);
    for (let at = 0; at < page.length; at += width) out[row++] = read(view, at);
  }
  if (row !== rows) throw new Error(`a column holds ${row} values, the file ${rows} rows`);
  return out;
}

/** An optional byte column's values: a view of its page where the level says there is one. */
function optional(leaf: LeafPages, rows: number): (Buffer | null)[] {
  const out = new Array<Buffer | null>(rows);
  let row = 0;
  for (let p = 0; p < leaf.values.length; p++) {
    const page = leaf.values[p]!;
    const def = leaf.def[p]!;
    let at = 0;
    for (let i = 0; i < def.length; i++) {
      if (row >= rows) throw new Error('a column holds more values than the file has rows');
      if (def[i] === 0) {
        out[row++] = null;
        continue;
      }
      const length = page.readUInt32LE(at);
      if (at + 4 + length > page.length) throw new Error('a value runs past the end of its page');
      out[row++] = page.subarray(at + 4, at + 4 + length);
      at += 4 + length;
    }
    if (at !== page.length || def.length !== leaf.counts[p])
      throw new Error('a page holds other values than its levels say');
  }
  if (row !== rows) throw new Error(`a column holds ${row} values, the file ${rows} rows`);
  return out;
}

/**
 * The headers of the records that have some, by row: a repetition level 0 starts a record, a
 * definition level 4 is a header (below it, the record's list is empty or null).
 */
function headerLists(names: LeafPages, values: LeafPages, rows: number): Map<number, Record<string, Buffer>> {
  const out = new Map<number, Record<string, Buffer>>();
  let row = -1;
  const nameAt = { page: 0, at: 0 };
  const valueAt = { page: 0, at: 0 };
  // The two leaves' pages end at different rows: each is read on from where it was.
  const take = (leaf: LeafPages, cursor: { page: number; at: number }) => {
    while (cursor.page < leaf.values.length && cursor.at >= leaf.values[cursor.page]!.length) {
      cursor.page++;
      cursor.at = 0;
    }
    const page = leaf.values[cursor.page];
    if (!page) throw new Error('the headers hold fewer values than their levels say');
    const length = page.readUInt32LE(cursor.at);
    if (cursor.at + 4 + length > page.length) throw new Error('a header runs past the end of its page');
    const b = page.subarray(cursor.at + 4, cursor.at + 4 + length);
    cursor.at += 4 + length;
    return b;
  };
  for (let p = 0; p < names.def.length; p++) {
    const rep = names.rep[p]!;
    const def = names.def[p]!;
    for (let i = 0; i < def.length; i++) {
      if (rep[i] === 0) row++;
      if (def[i] !== 4) continue;
      let headers = out.get(row);
      if (!headers) out.set(row, (headers = {}));
      headers[take(names, nameAt).toString()] = take(values, valueAt);
    }
  }
  if (row !== rows - 1) throw new Error(`the headers hold ${row + 1} rows, the file ${rows}`);
  return out;
}

/**
 * A file's records by hyparquet, a Parquet reader in JavaScript, and Node's own zstd: any layout,
 * values as views of the decompressed pages.
 */
async function readAnyFile(topic: string, body: Buffer, meta: FileMetaData): Promise<ConsumedRecord[]> {
  // hyparquet copies out each column chunk it reads: the file itself needs no copy.
  const file = {
    byteLength: body.length,
    slice: (start: number, end = body.length) =>
      body.buffer.slice(body.byteOffset + start, body.byteOffset + end) as ArrayBuffer,
  };
  // Most records have no headers: when no row group holds one (every list entry is null in the
  // statistics), the column is not read at all, as assembling empty lists costs as much as the rest.
  const withHeaders = meta.row_groups.some((g) =>
    g.columns.some((c) => {
      const m = c.meta_data;
      return (
        m?.path_in_schema.join('.') === 'headers.list.element.key' &&
        Number(m.statistics?.null_count ?? -1) !== Number(m.num_values)
      );
    }),
  );
  const columns = new Map<string, unknown[]>(COLUMN_NAMES.map((c) => [c, []]));
  // Column by column (onChunk), not row by row: transposing into row arrays costs as much as decoding.
  await parquetRead({
    file,
    metadata: meta,
    ...(withHeaders ? {} : { columns: COLUMN_NAMES.slice(0, 5) }),
    compressors: { ZSTD: unzstd },
    utf8: false,
    parsers: { timestampFromMilliseconds: Number },
    onChunk: ({ columnName, columnData, rowStart }) => {
      const column = columns.get(columnName);
      if (!column) return;
      for (let i = 0; i < columnData.length; i++) column[rowStart + i] = columnData[i];
    },
  });
  const [partitions, offsets, timestamps, keys, values, headers] = COLUMN_NAMES.map((c) => columns.get(c)!);
  const rows = Number(meta.num_rows);
  const records = new Array<ConsumedRecord>(rows);
  for (let i = 0; i < rows; i++) {
    const record: ConsumedRecord = {
      topic,
      partition: partitions![i] as number,
      offset: Number(offsets![i] as bigint),
      timestamp: timestamps![i] as number,
      key: view(keys![i] as Uint8Array | null),
      value: view(values![i] as Uint8Array | null),
      headers: {},
    };
    const list = headers![i] as
      | Array<{ key: string | Uint8Array; value: Uint8Array | null }>
      | null
      | undefined;
    for (const h of list ?? [])
      record.headers[typeof h.key === 'string' ? h.key : Buffer.from(h.key).toString()] =
        view(h.value) ?? Buffer.alloc(0);
    records[i] = record;
  }
  return records;
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
