import { UnknownPartitionError } from '../../core/index.ts';
import { type Bus, readRange } from '../../log/index.ts';
import type { DeadLetter, DeadLetterReason } from './dead-letter.ts';
import { readDeadLetter } from './dead-letter-record.ts';

/** A dead letter and where it sits in the dead-letter topic. */
export interface StoredDeadLetter {
  partition: number;
  offset: number;
  timestamp: number;
  letter: DeadLetter;
}

export interface DeadLetterQuery {
  partition: number;
  /** The first offset to look at; default the partition's start. */
  from?: number;
  /** Letters answered at most. */
  limit: number;
  pipeline?: string;
  reason?: DeadLetterReason;
}

export interface DeadLetterPage {
  letters: StoredDeadLetter[];
  /** Where the next page starts: the end offset when nothing is left to look at. */
  next: number;
  /** The partition's end offset when the page was read. */
  end: number;
  /** Partitions of the topic. */
  partitions: number;
}

/**
 * Records looked at per page, at most: a filter that few letters match over a long topic answers
 * in bounded time, with `next` to go on from.
 */
export const MAX_SCANNED_RECORDS = 10_000;

/**
 * A page of the dead letters of one partition (committed records only, in offset order), those of
 * one pipeline or reason when asked; records that are not dead letters are passed over.
 */
export async function readDeadLetters(bus: Bus, topic: string, q: DeadLetterQuery): Promise<DeadLetterPage> {
  const { range, partitions } = await partitionRange(bus, topic, q.partition);
  const from = Math.max(q.from ?? range.start, range.start);
  const letters: StoredDeadLetter[] = [];
  let next = from;
  let scanned = 0;
  for await (const { records, position } of readRange(bus, topic, q.partition, from, range.end)) {
    for (const r of records) {
      scanned++;
      next = r.offset + 1;
      const letter = readDeadLetter(r);
      if (
        letter &&
        (q.pipeline === undefined || letter.pipeline === q.pipeline) &&
        (q.reason === undefined || letter.reason === q.reason)
      )
        letters.push({ partition: r.partition, offset: r.offset, timestamp: r.timestamp, letter });
      if (letters.length >= q.limit || scanned >= MAX_SCANNED_RECORDS)
        return { letters, next, end: range.end, partitions };
    }
    next = position;
  }
  // readRange stops early only when a poll brings nothing: what is left is aborted or compacted away.
  return { letters, next: Math.max(next, range.end), end: range.end, partitions };
}

/**
 * Records read past a wanted offset before the next one is sought instead: offsets close together
 * are read in one go, far apart ones each on their own, so the records read stay near the number asked.
 */
const MAX_GAP = 100;

/** The dead letters at these offsets of one partition, by offset (an offset holding none is absent). */
export async function deadLettersAt(
  bus: Bus,
  topic: string,
  partition: number,
  offsets: readonly number[],
): Promise<Map<number, StoredDeadLetter>> {
  const { range } = await partitionRange(bus, topic, partition);
  const found = new Map<number, StoredDeadLetter>();
  const wanted = [...new Set(offsets)].filter((o) => o >= range.start && o < range.end).sort((a, b) => a - b);
  for (let i = 0; i < wanted.length; ) {
    let j = i;
    while (j + 1 < wanted.length && wanted[j + 1]! - wanted[j]! <= MAX_GAP) j++;
    const within = new Set(wanted.slice(i, j + 1));
    for await (const { records } of readRange(bus, topic, partition, wanted[i]!, wanted[j]! + 1))
      for (const r of records) {
        const letter = within.has(r.offset) ? readDeadLetter(r) : null;
        if (letter) found.set(r.offset, { partition, offset: r.offset, timestamp: r.timestamp, letter });
      }
    i = j + 1;
  }
  return found;
}

/** One partition's offsets and how many the topic has; an unknown partition is a typed error. */
async function partitionRange(bus: Bus, topic: string, partition: number) {
  const ranges = await bus.partitionOffsets(topic);
  const range = ranges.find((r) => r.partition === partition);
  if (!range) throw new UnknownPartitionError(topic, partition, ranges.length);
  return { range, partitions: ranges.length };
}
