import type { ConsumedRecord, ProducerRecord } from '../../core/index.ts';
import { decodeState, encodeState } from '../state/state-codec.ts';

/**
 * Records of a repartition topic. Data: the element's key (JSON, so the bus's murmur2 of it picks
 * the partition, the same in every version) and as the value `[eventTime, value, key]` in
 * MessagePack (`[eventTime, value, key, 1]` for the other input of a join) (twice as fast as JSON both ways, and the key need not be parsed again), or, as
 * written before and as dead letters show it, `{ eventTime, value }` as JSON; both are read. The
 * event time is inside the value rather than in
 * the record timestamp (which brokers refuse far in the future and retention deletes far in the
 * past) or a header (which a dead letter replayed through REST Proxy would lose). Watermarks: an
 * empty record on every partition from each upstream task saying how far its event time has got, or
 * that its source has gone idle, as Flink sends watermarks and idleness down every channel.
 */
export const REPARTITION_HEADERS = {
  watermark: 'kappa.watermark',
  upstream: 'kappa.watermark.upstream',
  idle: 'kappa.watermark.idle',
} as const;

export type Repartitioned =
  | { kind: 'data'; key: unknown; value: unknown; eventTime: number; side: 0 | 1 }
  | { kind: 'watermark'; upstream: number; watermark: number; idle: boolean };

/** An element as a repartition record's key and value. */
export function repartitioned(
  key: unknown,
  value: unknown,
  eventTime: number,
  side: 0 | 1 = 0,
): { key: Buffer; value: Buffer } {
  return {
    key: Buffer.from(JSON.stringify(key)),
    value: encodeState(side === 0 ? [eventTime, value, key] : [eventTime, value, key, 1]),
  };
}

/** The value a dead letter shows for a repartition record: `{ eventTime, value }` as JSON, which replay sends back and `readRepartitioned` reads. */
export function readableRepartitioned(record: ConsumedRecord): Buffer | null {
  try {
    const read = readRepartitioned(record);
    if (read.kind !== 'data') return record.value;
    return Buffer.from(
      JSON.stringify({
        eventTime: read.eventTime,
        value: read.value,
        ...(read.side === 1 ? { side: 1 } : {}),
      }),
    );
  } catch {
    return record.value;
  }
}

export function watermarkRecords(
  topic: string,
  partitions: number,
  upstream: number,
  watermark: number,
  idle: boolean,
): ProducerRecord[] {
  const headers = {
    [REPARTITION_HEADERS.watermark]: Buffer.from(String(watermark)),
    [REPARTITION_HEADERS.upstream]: Buffer.from(String(upstream)),
    [REPARTITION_HEADERS.idle]: Buffer.from(idle ? '1' : '0'),
  };
  return Array.from({ length: partitions }, (_, partition) => ({
    topic,
    partition,
    key: null,
    value: Buffer.alloc(0),
    headers,
  }));
}

/** Reads a repartition record; throws (a dead letter, reason `decode`) for one that is neither kind. */
export function readRepartitioned(record: ConsumedRecord): Repartitioned {
  const h = record.headers;
  const header = h[REPARTITION_HEADERS.watermark];
  if (header !== undefined) {
    const upstream = Number(h[REPARTITION_HEADERS.upstream]?.toString() ?? Number.NaN);
    const watermark = Number(header.toString());
    // A garbled marker must not stall every window behind it: it is refused instead.
    if (!Number.isInteger(upstream) || upstream < 0 || Number.isNaN(watermark))
      throw new TypeError('A watermark record needs an upstream task number and a watermark');
    return { kind: 'watermark', upstream, watermark, idle: h[REPARTITION_HEADERS.idle]?.toString() === '1' };
  }
  if (record.key === null || record.value === null)
    throw new TypeError('A repartition record needs a key and a value');
  // '{': the JSON form (written before, or replayed from a dead letter); anything else: MessagePack.
  if (record.value[0] !== 0x7b) {
    const data = decodeState<unknown>(record.value);
    if (
      !Array.isArray(data) ||
      (data.length !== 3 && !(data.length === 4 && data[3] === 1)) ||
      typeof data[0] !== 'number'
    )
      throw new TypeError('A repartition record holds [eventTime, value, key] or [eventTime, value, key, 1]');
    return {
      kind: 'data',
      key: data[2],
      value: data[1],
      eventTime: data[0],
      side: data.length === 4 ? 1 : 0,
    };
  }
  const data = JSON.parse(record.value.toString('utf8')) as {
    eventTime?: unknown;
    value?: unknown;
    side?: unknown;
  };
  if (typeof data?.eventTime !== 'number' || !('value' in data))
    throw new TypeError('A repartition record holds { eventTime, value }');
  return {
    kind: 'data',
    key: JSON.parse(record.key.toString('utf8')),
    value: data.value,
    eventTime: data.eventTime,
    side: data.side === 1 ? 1 : 0,
  };
}
