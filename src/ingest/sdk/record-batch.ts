/** A record the SDK sends: key and value as JSON (or bytes), headers as text or bytes. */
export interface OutgoingRecord<V = unknown> {
  /** A Buffer as is; anything else as JSON. Omitted: no key (records spread over partitions). */
  key?: unknown;
  value: V;
  headers?: Record<string, string | Buffer>;
  partition?: number;
}

/** Where a record landed (offsets are null for a retry Kappa had appended before it restarted). */
export interface Delivered {
  topic: string;
  partition: number | null;
  offset: number | null;
}

/** A record as bytes, ready for either transport. */
export interface EncodedRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer>;
  partition?: number;
}

/** A record waiting in a batch, with its delivery's promise. */
export interface Pending {
  record: EncodedRecord;
  resolve(delivered: Delivered): void;
  reject(error: Error): void;
}

/** Sends one topic's batch; resolves with each record's place, in order, once they are durable. */
export interface Transport {
  send(topic: string, records: readonly EncodedRecord[]): Promise<Delivered[]>;
  close(): Promise<void>;
}

export function toBytes(value: unknown): Buffer | null {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return value;
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${String(value)} has no JSON form`);
  return Buffer.from(text);
}

export function encodeRecord(
  record: OutgoingRecord,
  value: Buffer | null = toBytes(record.value),
): EncodedRecord {
  const encoded: EncodedRecord = { key: toBytes(record.key), value };
  if (record.partition !== undefined) encoded.partition = record.partition;
  if (record.headers)
    encoded.headers = Object.fromEntries(
      Object.entries(record.headers).map(([k, v]) => [k, typeof v === 'string' ? Buffer.from(v) : v]),
    );
  return encoded;
}
