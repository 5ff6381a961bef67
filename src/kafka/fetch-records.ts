import {
  compressionsAlgorithmsByBitmask,
  createAPI,
  fetchV17,
  type Reader,
  ResponseError,
  readKnownTaggedFields,
} from '@platformatic/kafka';
import type { ConsumedRecord, Headers } from '../core/index.ts';
import { abortedFilter } from './aborted-records.ts';

/**
 * Fetch responses decoded here rather than by the client, for the Fetch versions that carry topic
 * ids (13 to 17, Kafka 3.1 on): the client builds an object per record with BigInt fields, then a
 * message per record with a header Map, a commit closure and a diagnostics context, and pushes each
 * through a stream; at 100-byte records that costs more than the bytes. Here each record becomes a
 * ConsumedRecord straight from the response buffer, with Number arithmetic (offsets and timestamps
 * stay below 2^53), and a partition's records travel through the client's stream as one carrier
 * message at the partition's last offset, which the consumer unpacks. The client still sees every
 * batch's offsets (its fetch positions advance as they would), so nothing else of it changes. What
 * the record format is: https://kafka.apache.org/documentation/#recordbatch.
 */

/** A batch as the client's stream reads it (the fields it and aborted-records.ts look at), with its records decoded here. */
interface FetchedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  firstTimestamp: bigint;
  partitionLeaderEpoch: number;
  producerId: bigint;
  attributes: number;
  /** A control batch's one record (its key says commit or abort); empty for a data batch. */
  records: Array<{ key: Buffer | null }>;
  fetched: ConsumedRecord[];
}

interface FetchedPartition {
  partitionIndex: number;
  records: FetchedBatch[] | null;
  abortedTransactions?: Array<{ producerId: bigint; firstOffset: bigint }> | null;
}

const BATCH_HEAD = 12;
const IS_COMPRESSED = 0b111;
const IS_CONTROL = 1 << 5;
/** The header that marks a carrier message (for whoever looks at one): its value is its records' key in CARRIED. */
const CARRIER_NAME = Buffer.from('kappa.fetched-records');
/** A carrier's value → the records it carries; weak, so records a closed stream never delivered go. */
const CARRIED = new WeakMap<Buffer, ConsumedRecord[]>();
/** A transaction marker in the records: it moves a reader's position when taken, and is not a record. */
const MARKER = Symbol('position marker');

/** Fetch versions decoded here. */
export const isFastFetch = (version: number) => version >= 13 && version <= 17;

/** The Fetch API of `version` (13–17) with its response decoded here. */
export function fastFetch(version: number) {
  return createAPI(1, version, fetchV17.createRequest, parseFetch);
}

/** The records a carrier message brings, or undefined for any other message. */
export function carriedRecords(value: unknown): ConsumedRecord[] | undefined {
  return value instanceof Buffer ? CARRIED.get(value) : undefined;
}

export function isPositionMarker(record: ConsumedRecord): boolean {
  return MARKER in record;
}

/**
 * After a fetch: read_committed filtering (aborted-records.ts), records below the offset each
 * partition was fetched from dropped (a batch is returned whole), and each partition's batches
 * replaced by one the client's stream reads as one carrier message at the last batch's last offset.
 * `requested` maps `topicId:partition` to the offset it was fetched from.
 */
export function carryRecords(response: unknown, requested: Map<string, number>): void {
  for (const topic of (response as { responses?: Array<{ topicId: string; partitions: FetchedPartition[] }> })
    .responses ?? []) {
    for (const partition of topic.partitions) {
      const batches = partition.records;
      if (!batches || batches.length === 0) continue;
      // Never asked for (it cannot be: a session holds only what was): every record is carried, and
      // the consumer's position decides.
      const from = requested.get(`${topic.topicId}:${partition.partitionIndex}`) ?? 0;
      const keep = abortedFilter(partition.abortedTransactions);
      partition.abortedTransactions = [];
      const out: ConsumedRecord[] = [];
      for (const batch of batches) {
        if (!keep(batch)) continue;
        if (batch.attributes & IS_CONTROL) {
          out.push(positionMarker('', 0, Number(batch.firstOffset) + batch.lastOffsetDelta));
          continue;
        }
        for (const r of batch.fetched) if (r.offset >= from) out.push(r);
      }
      const last = batches[batches.length - 1]!;
      const carrier = Buffer.alloc(0);
      const carries = out.length > 0;
      if (carries) CARRIED.set(carrier, out);
      partition.records = [
        {
          firstOffset: last.firstOffset,
          lastOffsetDelta: last.lastOffsetDelta,
          firstTimestamp: 0n,
          partitionLeaderEpoch: last.partitionLeaderEpoch,
          producerId: -1n,
          // Nothing to carry (only aborted records): a control batch, which the stream only counts.
          attributes: carries ? 0 : IS_CONTROL,
          records: carries ? [carrierRecord(last.lastOffsetDelta, carrier)] : [],
          fetched: [],
        },
      ];
    }
  }
}

function carrierRecord(offsetDelta: number, value: Buffer) {
  return {
    length: 0,
    attributes: 0,
    timestampDelta: 0n,
    offsetDelta,
    key: null,
    value,
    headers: [[CARRIER_NAME, null]],
  };
}

/** A transaction marker at `offset`, as a record that moves the position and is not handed out. */
export function positionMarker(topic: string, partition: number, offset: number): ConsumedRecord {
  return {
    topic,
    partition,
    offset,
    timestamp: 0,
    key: null,
    value: null,
    headers: {},
    [MARKER]: true,
  } as ConsumedRecord;
}

/** fetchV17's parseResponse, the records decoded by `readBatches`. */
function parseFetch(_correlationId: number, apiKey: number, apiVersion: number, reader: Reader) {
  const errors: Array<[string, [number, null]]> = [];
  const throttleTimeMs = reader.readInt32();
  const errorCode = reader.readInt16();
  if (errorCode !== 0) errors.push(['', [errorCode, null]]);
  const response = {
    throttleTimeMs,
    errorCode,
    sessionId: reader.readInt32(),
    nodeEndpoints: [] as unknown[],
    responses: reader.readArray((r, i) => ({
      topicId: r.readUUID(),
      partitions: r.readArray(
        (r, j) => {
          const partition = {
            partitionIndex: r.readInt32(),
            errorCode: r.readInt16(),
            highWatermark: r.readInt64(),
            lastStableOffset: r.readInt64(),
            logStartOffset: r.readInt64(),
            divergingEpoch: { epoch: -1, endOffset: -1n },
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
            snapshotId: { endOffset: -1n, epoch: -1 },
            abortedTransactions: r.readNullableArray((r) => ({
              producerId: r.readInt64(),
              firstOffset: r.readInt64(),
            })),
            preferredReadReplica: r.readInt32(),
            records: [] as FetchedBatch[] | null,
          };
          if (partition.errorCode !== 0)
            errors.push([`/responses/${i}/partitions/${j}`, [partition.errorCode, null]]);
          // COMPACT_RECORDS: the length plus one, 0 for null.
          let size = r.readUnsignedVarInt();
          if (size === 0) partition.records = null;
          if (size > 1) {
            size--;
            // slice: a view of the response where it is one chunk (nearly always), a copy where not.
            partition.records = readBatches(r.buffer.slice(r.position, r.position + size));
            r.skip(size);
          }
          readKnownTaggedFields(r, {
            0: (r) => {
              partition.divergingEpoch = { epoch: r.readInt32(), endOffset: r.readInt64() };
            },
            1: (r) => {
              partition.currentLeader = { leaderId: r.readInt32(), leaderEpoch: r.readInt32() };
            },
            2: (r) => {
              partition.snapshotId = { endOffset: r.readInt64(), epoch: r.readInt32() };
            },
          });
          return partition;
          // Compact, its tagged fields read above rather than skipped.
        },
        true,
        false,
      ),
    })),
  };
  readKnownTaggedFields(reader, {
    0: (r) => {
      response.nodeEndpoints = r.readArray((r) => ({
        nodeId: r.readInt32(),
        host: r.readString(),
        port: r.readInt32(),
        rack: r.readNullableString(),
      }));
    },
  });
  if (errors.length > 0) throw new ResponseError(apiKey, apiVersion, Object.fromEntries(errors), response);
  return response;
}

/** The whole batches of a partition's records (a fetch may end in a partial one, which is left). */
export function readBatches(buffer: Buffer): FetchedBatch[] {
  const batches: FetchedBatch[] = [];
  let at = 0;
  while (buffer.length - at >= BATCH_HEAD) {
    const length = buffer.readInt32BE(at + 8);
    const end = at + BATCH_HEAD + length;
    if (end > buffer.length) break;
    batches.push(readBatch(buffer, at, end));
    at = end;
  }
  return batches;
}

function readBatch(buffer: Buffer, at: number, end: number): FetchedBatch {
  const firstOffset = buffer.readBigInt64BE(at);
  const attributes = buffer.readInt16BE(at + 21);
  const firstTimestamp = buffer.readBigInt64BE(at + 27);
  const count = buffer.readInt32BE(at + 57);
  const batch: FetchedBatch = {
    firstOffset,
    lastOffsetDelta: buffer.readInt32BE(at + 23),
    firstTimestamp,
    partitionLeaderEpoch: buffer.readInt32BE(at + 12),
    producerId: buffer.readBigInt64BE(at + 43),
    attributes,
    records: [],
    fetched: [],
  };
  let data = buffer;
  let p = at + 61;
  let stop = end;
  const compression = attributes & IS_COMPRESSED;
  if (compression !== 0) {
    const algorithm = compressionsAlgorithmsByBitmask[compression];
    if (!algorithm) throw new Error(`Unsupported compression of a record batch (attributes ${attributes})`);
    data = algorithm.decompressSync(buffer.subarray(p, end)) as Buffer;
    p = 0;
    stop = data.length;
  }
  const base = Number(firstOffset);
  const baseTime = Number(firstTimestamp);
  const control = (attributes & IS_CONTROL) !== 0;
  const cursor = { at: p };
  for (let i = 0; i < count && cursor.at < stop; i++) {
    varint(data, cursor); // the record's length
    cursor.at++; // attributes
    const timestampDelta = varlong(data, cursor);
    const offsetDelta = varint(data, cursor);
    const key = bytes(data, cursor);
    const value = bytes(data, cursor);
    const headerCount = varint(data, cursor);
    const headers: Headers = {};
    if (headerCount > 0) {
      for (let h = 0; h < headerCount; h++) {
        const name = bytes(data, cursor);
        const v = bytes(data, cursor);
        headers[name === null ? '' : name.toString()] = v ?? Buffer.alloc(0);
      }
    }
    if (control) {
      batch.records.push({ key });
      continue;
    }
    batch.fetched.push({
      topic: '',
      partition: 0,
      offset: base + offsetDelta,
      timestamp: baseTime + timestampDelta,
      key,
      value,
      headers,
    });
  }
  return batch;
}

/** A zigzag varint (int32). */
function varint(data: Buffer, cursor: { at: number }): number {
  let at = cursor.at;
  let b = data[at++]!;
  let n = b & 0x7f;
  let shift = 7;
  while (b & 0x80) {
    b = data[at++]!;
    n |= (b & 0x7f) << shift;
    shift += 7;
  }
  cursor.at = at;
  return (n >>> 1) ^ -(n & 1);
}

/** A zigzag varlong, in Number arithmetic: exact below 2^53, which deltas of milliseconds stay far under. */
function varlong(data: Buffer, cursor: { at: number }): number {
  let at = cursor.at;
  let b = data[at++]!;
  let n = b & 0x7f;
  let scale = 128;
  while (b & 0x80) {
    b = data[at++]!;
    n += (b & 0x7f) * scale;
    scale *= 128;
  }
  cursor.at = at;
  return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
}

/** Length-prefixed bytes (varint length, −1 for null), as a view of the response. */
function bytes(data: Buffer, cursor: { at: number }): Buffer | null {
  const length = varint(data, cursor);
  if (length < 0) return null;
  const start = cursor.at;
  cursor.at = start + length;
  return data.subarray(start, start + length);
}
