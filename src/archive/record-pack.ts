import type { ConsumedRecord } from '../core/index.ts';

/**
 * Records as one buffer, to hand them to a worker thread by transfer: structured-cloning a hundred
 * thousand record objects would cost the event loop as much as encoding them. Hand-written, as the
 * layout is a trivial sequence of fields: per record the partition, offset and timestamp (float64),
 * then key, value and each header as a length (int32, -1 for null) and bytes.
 */
export function packRecords(records: readonly ConsumedRecord[]): ArrayBuffer {
  let size = 0;
  for (const r of records) {
    size += 24 + 8 + (r.key?.length ?? 0) + (r.value?.length ?? 0) + 4;
    for (const [k, v] of Object.entries(r.headers)) size += 8 + Buffer.byteLength(k) + v.length;
  }
  const buffer = new ArrayBuffer(size);
  const bytes = Buffer.from(buffer);
  const view = new DataView(buffer);
  let at = 0;
  const blob = (b: Buffer | null) => {
    view.setInt32(at, b === null ? -1 : b.length, true);
    at += 4;
    if (b !== null) {
      bytes.set(b, at);
      at += b.length;
    }
  };
  for (const r of records) {
    view.setFloat64(at, r.partition, true);
    view.setFloat64(at + 8, r.offset, true);
    view.setFloat64(at + 16, r.timestamp, true);
    at += 24;
    blob(r.key);
    blob(r.value);
    const headers = Object.entries(r.headers);
    view.setInt32(at, headers.length, true);
    at += 4;
    for (const [k, v] of headers) {
      blob(Buffer.from(k));
      blob(v);
    }
  }
  return buffer;
}

/** What packRecords packed, with `topic` (not packed: a file is one topic's). */
export function unpackRecords(buffer: ArrayBuffer, topic: string): ConsumedRecord[] {
  const bytes = Buffer.from(buffer);
  const view = new DataView(buffer);
  const out: ConsumedRecord[] = [];
  let at = 0;
  const blob = (): Buffer | null => {
    const length = view.getInt32(at, true);
    at += 4;
    if (length < 0) return null;
    const b = bytes.subarray(at, at + length);
    at += length;
    return b;
  };
  while (at < buffer.byteLength) {
    const partition = view.getFloat64(at, true);
    const offset = view.getFloat64(at + 8, true);
    const timestamp = view.getFloat64(at + 16, true);
    at += 24;
    const key = blob();
    const value = blob();
    const count = view.getInt32(at, true);
    at += 4;
    const headers: Record<string, Buffer> = {};
    for (let i = 0; i < count; i++) {
      const k = blob()!.toString();
      headers[k] = blob() ?? Buffer.alloc(0);
    }
    out.push({ topic, partition, offset, timestamp, key, value, headers });
  }
  return out;
}
