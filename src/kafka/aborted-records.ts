/**
 * read_committed filtering of a Fetch response as Kafka's Java consumer does it: walk the batches in
 * offset order, start skipping a producer's transactional batches at the first offset of each aborted
 * transaction the broker lists, stop at that producer's abort marker. @platformatic/kafka keys the
 * aborted transactions by producer id, so a producer with several aborted transactions in one fetch
 * (every process of one transactional id shares the producer id) has only its last one filtered, and
 * one whose abort marker falls past the fetch is not filtered at all. This runs first and empties the
 * broker's list, so the library's own filter has nothing left to do.
 *
 * Control batches (transaction markers) become one empty record carrying POSITION_MARKER: the
 * library emits no message for a control batch, so without it a reader's position could never pass
 * the marker after a partition's last transaction, and a reader waiting to reach the end offset (a
 * changelog restore) would wait for ever. Kafka's Java consumer moves its position past markers too.
 * The marker reaches the consumer in offset order with the partition's records, so moving the
 * position there skips nothing.
 */
export const POSITION_MARKER = 'kappa.position-marker';
const MARKER_HEADER = Buffer.from(POSITION_MARKER);
interface Batch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  producerId: bigint;
  attributes: number;
  records: Array<Record<string, unknown> & { key?: Buffer | null }>;
}

interface FetchResponse {
  responses?: Array<{
    partitions?: Array<{
      records?: Batch[] | null;
      abortedTransactions?: Array<{ producerId: bigint; firstOffset: bigint }> | null;
    }>;
  }>;
}

const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;
/** A control record's key is (version int16, type int16); type 0 is ABORT. */
const isAbortMarker = (batch: Pick<Batch, 'records'>) => batch.records[0]?.key?.readInt16BE(2) === 0;

export function dropAbortedRecords(response: unknown): void {
  for (const topic of (response as FetchResponse).responses ?? []) {
    for (const partition of topic.partitions ?? []) {
      const listed = partition.abortedTransactions;
      partition.abortedTransactions = [];
      // Most fetches list no aborted transaction: nothing to copy then.
      if (!partition.records || !listed || listed.length === 0) continue;
      partition.records = partition.records.filter(abortedFilter(listed));
    }
  }
  for (const topic of (response as FetchResponse).responses ?? [])
    for (const partition of topic.partitions ?? [])
      for (const batch of partition.records ?? []) markPosition(batch);
}

/**
 * Whether each batch of a partition, handed over in offset order, is kept: false for the batches of
 * the aborted transactions the broker listed. Control batches are kept.
 */
export function abortedFilter(
  listed: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> | null | undefined,
): (
  batch: Pick<Batch, 'firstOffset' | 'lastOffsetDelta' | 'producerId' | 'attributes' | 'records'>,
) => boolean {
  if (!listed || listed.length === 0) return () => true;
  const aborted = [...listed].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const skipping = new Set<bigint>();
  let next = 0;
  return (batch) => {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (next < aborted.length && aborted[next]!.firstOffset <= last)
      skipping.add(aborted[next++]!.producerId);
    if (batch.attributes & IS_CONTROL) {
      if (isAbortMarker(batch)) skipping.delete(batch.producerId);
      return true;
    }
    return !((batch.attributes & IS_TRANSACTIONAL) !== 0 && skipping.has(batch.producerId));
  };
}

function markPosition(batch: Batch): void {
  if (!(batch.attributes & IS_CONTROL)) return;
  batch.attributes &= ~IS_CONTROL;
  batch.records = [
    {
      length: 0,
      attributes: 0,
      timestampDelta: 0n,
      offsetDelta: batch.lastOffsetDelta,
      key: null,
      value: null,
      headers: [[MARKER_HEADER, null]],
    },
  ];
}
