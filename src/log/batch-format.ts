import { crc32 } from 'node:zlib';
import type { ConsumedRecord, Headers } from '../core/index.ts';

/**
 * The on-disk record batch. One append of N records is one batch: one header, one CRC.
 *
 *   0  baseOffset      f64   offsets and timestamps are IEEE doubles: exact to 2^53, and read and
 *   8  length          u32   written by V8 without BigInt (which would cost more than the rest)
 *  12  crc             u32   CRC-32 of bytes [16, 12 + length)
 *  16  magic           u8    FORMAT_VERSION
 *  17  attributes      u8    bit 0: written by a transaction
 *  18  (reserved)      u16
 *  20  recordCount     u32
 *  24  lastOffsetDelta u32   compaction removes records but keeps offsets, so deltas may skip
 *  28  (reserved)      u32
 *  32  maxTimestamp    f64   feeds the time index and time retention
 *  40  transactionId   f64   0 outside transactions; lets recovery find a half-applied commit
 *  48  records...
 *
 * A record: length u32 (after this field) · offsetDelta u32 · timestamp f64 · keyLength i32 (-1 null) ·
 * key · valueLength i32 (-1 null) · value · headerCount u16 · per header: nameLength u16 · name (UTF-8) ·
 * valueLength u32 · value. Little-endian throughout.
 *
 * Hand-written: the layout follows Kafka's record batch v2 in spirit, but without varints, so that
 * the append and read loops stay a handful of fixed-width writes per record.
 */
export const FORMAT_VERSION = 1;
export const BATCH_HEADER_BYTES = 48;
export const RECORD_FIXED_BYTES = 4 + 4 + 8 + 4 + 4 + 2;
export const ATTR_TRANSACTIONAL = 1;

const EMPTY_HEADERS: Headers = Object.freeze({}) as Headers;

/** What a batch is made from; ProducerRecord fits it as is, so records are not copied on the way in. */
export interface RecordInput {
  key?: Buffer | null | undefined;
  value: Buffer | null;
  headers?: Headers | undefined;
  timestamp?: number | undefined;
}

/** Bytes a record takes inside a batch (its payload, plus RECORD_FIXED_BYTES of framing). */
export function encodedRecordSize(record: RecordInput): number {
  let size = RECORD_FIXED_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  const headers = record.headers;
  if (headers !== undefined) {
    for (const name in headers) size += 2 + Buffer.byteLength(name) + 4 + headers[name]!.length;
  }
  return size;
}

/**
 * Encodes records into one batch. `sizes` are the records' encodedRecordSize values, computed once
 * by the caller while validating. The CRC is computed here; the base offset is patched in later by
 * `setBaseOffset`, when the partition assigns offsets.
 */
export function encodeBatch(
  records: readonly RecordInput[],
  sizes: readonly number[],
  defaultTimestamp: number,
  transactionId = 0,
): Buffer {
  let total = BATCH_HEADER_BYTES;
  for (let i = 0; i < sizes.length; i++) total += sizes[i]!;
  const buf = Buffer.allocUnsafe(total);
  // A DataView's setters compile to plain stores; Buffer's write* methods check their arguments each call.
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = BATCH_HEADER_BYTES;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const start = pos;
    view.setUint32(pos + 4, i, true);
    const timestamp = r.timestamp ?? defaultTimestamp;
    view.setFloat64(pos + 8, timestamp, true);
    pos += 16;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    pos = writeBytes(buf, view, pos, r.key ?? null);
    pos = writeBytes(buf, view, pos, r.value);
    const headers = r.headers;
    let count = 0;
    const countAt = pos;
    pos += 2;
    if (headers !== undefined) {
      for (const name in headers) {
        const value = headers[name]!;
        const nameLength = buf.write(name, pos + 2, 'utf8');
        view.setUint16(pos, nameLength, true);
        pos += 2 + nameLength;
        view.setUint32(pos, value.length, true);
        buf.set(value, pos + 4);
        pos += 4 + value.length;
        count++;
      }
    }
    view.setUint16(countAt, count, true);
    view.setUint32(start, pos - start - 4, true);
  }
  buf.writeDoubleLE(0, 0);
  buf.writeUInt32LE(total - 12, 8);
  buf.writeUInt8(FORMAT_VERSION, 16);
  buf.writeUInt8(transactionId === 0 ? 0 : ATTR_TRANSACTIONAL, 17);
  buf.writeUInt16LE(0, 18);
  buf.writeUInt32LE(records.length, 20);
  buf.writeUInt32LE(Math.max(0, records.length - 1), 24);
  buf.writeUInt32LE(0, 28);
  buf.writeDoubleLE(records.length === 0 ? 0 : maxTimestamp, 32);
  buf.writeDoubleLE(transactionId, 40);
  buf.writeUInt32LE(crc32(buf.subarray(16)), 12);
  return buf;
}

function writeBytes(buf: Buffer, view: DataView, pos: number, bytes: Buffer | null): number {
  if (bytes === null) {
    view.setInt32(pos, -1, true);
    return pos + 4;
  }
  view.setInt32(pos, bytes.length, true);
  buf.set(bytes, pos + 4);
  return pos + 4 + bytes.length;
}

/** The base offset is outside the CRC, so assigning it does not mean hashing the batch again. */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  batch.writeDoubleLE(baseOffset, 0);
}

export interface BatchHeader {
  baseOffset: number;
  /** Whole batch size in bytes, header included. */
  size: number;
  recordCount: number;
  lastOffset: number;
  maxTimestamp: number;
  transactionId: number;
}

/**
 * Reads the header of the batch at `pos`. Returns null when the bytes there are not a whole, intact
 * batch: too short (a torn write or a read that ended mid-batch), a bad length or version, or a CRC
 * mismatch when `verify` is set.
 */
export function readBatchHeader(buf: Buffer, pos: number, verify: boolean): BatchHeader | null {
  if (buf.length - pos < BATCH_HEADER_BYTES) return null;
  const length = buf.readUInt32LE(pos + 8);
  const size = length + 12;
  if (size < BATCH_HEADER_BYTES || buf.readUInt8(pos + 16) !== FORMAT_VERSION) return null;
  if (buf.length - pos < size) return null;
  if (verify && crc32(buf.subarray(pos + 16, pos + size)) !== buf.readUInt32LE(pos + 12)) return null;
  const baseOffset = buf.readDoubleLE(pos);
  return {
    baseOffset,
    size,
    recordCount: buf.readUInt32LE(pos + 20),
    lastOffset: baseOffset + buf.readUInt32LE(pos + 24),
    maxTimestamp: buf.readDoubleLE(pos + 32),
    transactionId: buf.readDoubleLE(pos + 40),
  };
}

/** Whether a full batch header is present at `pos` with a plausible length (the CRC is not checked). */
export function batchSizeAt(buf: Buffer, pos: number): number {
  if (buf.length - pos < BATCH_HEADER_BYTES) return -1;
  return buf.readUInt32LE(pos + 8) + 12;
}

/**
 * Decodes the records of the batch at `pos` whose offsets are in [fromOffset, toOffset) and pushes up
 * to `limit` of them to `out`. Keys, values and header values are views into `buf`, not copies.
 * Returns the number pushed.
 */
export function decodeRecords(
  buf: Buffer,
  pos: number,
  header: BatchHeader,
  topic: string,
  partition: number,
  fromOffset: number,
  toOffset: number,
  limit: number,
  out: ConsumedRecord[],
): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = pos + BATCH_HEADER_BYTES;
  const end = pos + header.size;
  let pushed = 0;
  const base = header.baseOffset;
  while (p < end && pushed < limit) {
    const length = view.getUint32(p, true);
    const offset = base + view.getUint32(p + 4, true);
    if (offset >= toOffset) break;
    if (offset < fromOffset) {
      p += 4 + length;
      continue;
    }
    const timestamp = view.getFloat64(p + 8, true);
    let q = p + 16;
    const keyLength = view.getInt32(q, true);
    q += 4;
    const key = keyLength < 0 ? null : buf.subarray(q, q + keyLength);
    if (keyLength > 0) q += keyLength;
    const valueLength = view.getInt32(q, true);
    q += 4;
    const value = valueLength < 0 ? null : buf.subarray(q, q + valueLength);
    if (valueLength > 0) q += valueLength;
    const headerCount = view.getUint16(q, true);
    q += 2;
    let headers = EMPTY_HEADERS;
    if (headerCount > 0) {
      headers = {};
      for (let h = 0; h < headerCount; h++) {
        const nameLength = view.getUint16(q, true);
        const name = buf.toString('utf8', q + 2, q + 2 + nameLength);
        q += 2 + nameLength;
        const vLength = view.getUint32(q, true);
        headers[name] = buf.subarray(q + 4, q + 4 + vLength);
        q += 4 + vLength;
      }
    }
    out.push({ topic, partition, offset, timestamp, key, value, headers });
    pushed++;
    p += 4 + length;
  }
  return pushed;
}

/** Visits every record of a batch without materialising it: what compaction and time seeks need. */
export function forEachRecord(
  buf: Buffer,
  pos: number,
  header: BatchHeader,
  visit: (
    offset: number,
    timestamp: number,
    key: Buffer | null,
    isTombstone: boolean,
    start: number,
    end: number,
  ) => void,
): void {
  let p = pos + BATCH_HEADER_BYTES;
  const end = pos + header.size;
  while (p < end) {
    const length = buf.readUInt32LE(p);
    const offset = header.baseOffset + buf.readUInt32LE(p + 4);
    const timestamp = buf.readDoubleLE(p + 8);
    const keyLength = buf.readInt32LE(p + 16);
    const key = keyLength < 0 ? null : buf.subarray(p + 20, p + 20 + keyLength);
    const valueLength = buf.readInt32LE(p + 20 + Math.max(0, keyLength));
    visit(offset, timestamp, key, valueLength < 0, p, p + 4 + length);
    p += 4 + length;
  }
}

/**
 * Builds a batch from records copied out of other batches (compaction's output). Offsets are kept:
 * each record's offset delta is rewritten against the new base.
 */
export function rebuildBatch(
  parts: ReadonlyArray<{ buf: Buffer; start: number; end: number; offset: number; timestamp: number }>,
  transactionId = 0,
): Buffer {
  let total = BATCH_HEADER_BYTES;
  for (const part of parts) total += part.end - part.start;
  const buf = Buffer.allocUnsafe(total);
  const base = parts[0]!.offset;
  let pos = BATCH_HEADER_BYTES;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  for (const part of parts) {
    part.buf.copy(buf, pos, part.start, part.end);
    buf.writeUInt32LE(part.offset - base, pos + 4);
    pos += part.end - part.start;
    if (part.timestamp > maxTimestamp) maxTimestamp = part.timestamp;
  }
  buf.writeDoubleLE(base, 0);
  buf.writeUInt32LE(total - 12, 8);
  buf.writeUInt8(FORMAT_VERSION, 16);
  buf.writeUInt8(transactionId === 0 ? 0 : ATTR_TRANSACTIONAL, 17);
  buf.writeUInt16LE(0, 18);
  buf.writeUInt32LE(parts.length, 20);
  buf.writeUInt32LE(parts[parts.length - 1]!.offset - base, 24);
  buf.writeUInt32LE(0, 28);
  buf.writeDoubleLE(maxTimestamp, 32);
  buf.writeDoubleLE(transactionId, 40);
  buf.writeUInt32LE(crc32(buf.subarray(16)), 12);
  return buf;
}
