import type { ConsumedRecord, ProducerRecord } from '../../core/index.ts';
import type { Serde } from '../serdes/serde.ts';
import { decodeState, encodeState } from '../state/state-codec.ts';

/**
 * Records of a repartition topic. Data: the element's key (JSON, so the bus's murmur2 of it picks
 * the partition, the same in every version) and as the value `[eventTime, value, key]` in
 * MessagePack (`[eventTime, value, key, 1]` for the other input of a join), or, when the steps
 * before the cut only filter, `[eventTime, bytes, key, side, 1]` with the source record's own bytes,
 * which the next stage reads with the source's serde: re-encoding an unchanged element would cost
 * more than the rest of the stage (twice as fast as JSON both ways, and the key need not be parsed again), or, as
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

/** An element as a repartition record's key and value; `sourceBytes`: the unchanged source record's value, sent instead. */
export function repartitioned(
  key: unknown,
  value: unknown,
  eventTime: number,
  side: 0 | 1 = 0,
  sourceBytes: Buffer | null = null,
): { key: Buffer; value: Buffer } {
  return {
    key: Buffer.from(JSON.stringify(key)),
    value: encodeState(
      sourceBytes !== null
        ? [eventTime, sourceBytes, key, side, 1]
        : side === 0
          ? [eventTime, value, key]
          : [eventTime, value, key, 1],
    ),
  };
}

/** The serde of the source each side's records come from (for records that carry the source's bytes). */
export type SourceSerdes = (side: 0 | 1) => Serde<unknown>;

/** The value a dead letter shows for a repartition record: `{ eventTime, value }` as JSON, which replay sends back and `readRepartitioned` reads. */
export function readableRepartitioned(record: ConsumedRecord, serdes: SourceSerdes): Buffer | null {
  try {
    const read = readRepartitioned(record, serdes);
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
export function readRepartitioned(record: ConsumedRecord, serdes: SourceSerdes): Repartitioned {
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
    if (Array.isArray(data) && data.length === 5 && data[4] === 1) {
      const [eventTime, bytes, key, side] = data as [unknown, unknown, unknown, unknown];
      if (typeof eventTime !== 'number' || !Buffer.isBuffer(bytes) || (side !== 0 && side !== 1))
        throw new TypeError('A repartition record holds [eventTime, bytes, key, side, 1]');
      return { kind: 'data', key, value: serdes(side).decode(bytes), eventTime, side };
    }
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
