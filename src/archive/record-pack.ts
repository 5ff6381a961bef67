import type { ConsumedRecord } from '../core/index.ts';

/**
 * One file's records as one buffer laid out as the Parquet file's columns, so that a worker thread
 * gets them by transfer (structured-cloning a hundred thousand record objects would cost the event
 * loop as much as encoding them) and compresses the keys' and values' pages straight out of it.
 * Hand-written: the layout is the archive's own, a few fixed sections, all little-endian:
 *
 * - count and partition (float64 each);
 * - offsets, then timestamps: int64 each, as Parquet's PLAIN INT64;
 * - a presence byte per record for the key, then for the value;
 * - keys, then values, of the records that have one: as Parquet's PLAIN BYTE_ARRAY (a uint32
 *   length, then the bytes), each section after its byte length (uint32);
 * - headers, only of the records that have some: the record's index, the count of headers, then
 *   each name and value as length and bytes.
 */
export function packColumns(records: readonly ConsumedRecord[]): ArrayBuffer {
  const n = records.length;
  let keyBytes = 0;
  let valueBytes = 0;
  let headerBytes = 0;
  const headers: [number, [string, Buffer][]][] = [];
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    if (r.key !== null) keyBytes += 4 + r.key.length;
    if (r.value !== null) valueBytes += 4 + r.value.length;
    // for…in finds none without allocating the entries of an empty object (most records').
    for (const _ in r.headers) {
      const entries = Object.entries(r.headers);
      headers.push([i, entries]);
      headerBytes += 8;
      for (const [k, v] of entries) headerBytes += 8 + Buffer.byteLength(k) + v.length;
      break;
    }
  }
  const presence = 16 + 16 * n;
  const buffer = new ArrayBuffer(align4(presence + 2 * n) + 12 + keyBytes + valueBytes + headerBytes);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  view.setFloat64(0, n, true);
  view.setFloat64(8, n > 0 ? records[0]!.partition : 0, true);
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    writeInt64(view, 16 + 8 * i, r.offset);
    writeInt64(view, 16 + 8 * (n + i), Math.trunc(r.timestamp));
    bytes[presence + i] = r.key === null ? 0 : 1;
    bytes[presence + n + i] = r.value === null ? 0 : 1;
  }
  let at = align4(presence + 2 * n);
  const blob = (b: Uint8Array) => {
    view.setUint32(at, b.length, true);
    bytes.set(b, at + 4);
    at += 4 + b.length;
  };
  view.setUint32(at, keyBytes, true);
  at += 4;
  for (const r of records) if (r.key !== null) blob(r.key);
  view.setUint32(at, valueBytes, true);
  at += 4;
  for (const r of records) if (r.value !== null) blob(r.value);
  view.setUint32(at, headerBytes, true);
  at += 4;
  for (const [i, entries] of headers) {
    view.setUint32(at, i, true);
    view.setUint32(at + 4, entries.length, true);
    at += 8;
    for (const [k, v] of entries) {
      blob(Buffer.from(k));
      blob(v);
    }
  }
  return buffer;
}

/** What packColumns packed, as views of its buffer (no copies). */
export interface PackedColumns {
  count: number;
  partition: number;
  /** PLAIN INT64 each. */
  offsets: Uint8Array;
  timestamps: Uint8Array;
  /** 1 where the record has a key (a value). */
  keyPresent: Uint8Array;
  valuePresent: Uint8Array;
  /** PLAIN BYTE_ARRAY of the keys (values) there are. */
  keys: Uint8Array;
  values: Uint8Array;
  /** Per record with headers: its index and its headers as [name, value] (UTF-8 bytes, bytes). */
  headers: [number, [Uint8Array, Uint8Array][]][];
}

export function unpackColumns(buffer: ArrayBuffer): PackedColumns {
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  const count = view.getFloat64(0, true);
  const partition = view.getFloat64(8, true);
  const presence = 16 + 16 * count;
  let at = align4(presence + 2 * count);
  const section = () => {
    const length = view.getUint32(at, true);
    const s = bytes.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return s;
  };
  const keys = section();
  const values = section();
  const headerSection = section();
  const headers: PackedColumns['headers'] = [];
  const h = new DataView(headerSection.buffer, headerSection.byteOffset, headerSection.length);
  for (let p = 0; p < headerSection.length; ) {
    const index = h.getUint32(p, true);
    const entries: [Uint8Array, Uint8Array][] = [];
    const total = h.getUint32(p + 4, true);
    p += 8;
    const blob = () => {
      const length = h.getUint32(p, true);
      const b = headerSection.subarray(p + 4, p + 4 + length);
      p += 4 + length;
      return b;
    };
    for (let e = 0; e < total; e++) entries.push([blob(), blob()]);
    headers.push([index, entries]);
  }
  return {
    count,
    partition,
    offsets: bytes.subarray(16, 16 + 8 * count),
    timestamps: bytes.subarray(16 + 8 * count, presence),
    keyPresent: bytes.subarray(presence, presence + count),
    valuePresent: bytes.subarray(presence + count, presence + 2 * count),
    keys,
    values,
    headers,
  };
}

/** An integer as PLAIN INT64: `>>> 0` keeps the low 32 bits (also of a negative), the division the rest. */
export function writeInt64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setInt32(at + 4, Math.floor(value / 4294967296), true);
}

/** A PLAIN INT64 as a number (offsets and timestamps are below 2^53). */
export function readInt64(view: DataView, at: number): number {
  return view.getInt32(at + 4, true) * 4294967296 + view.getUint32(at, true);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
