import type { Headers, ProducerRecord } from '../../core/index.ts';
import type { DeadLetter, DeadLetterReason } from './dead-letter.ts';

/** The header names a dead letter carries; `kappa dlq` reads them back. */
export const DLQ_HEADERS = {
  reason: 'kappa.dlq.reason',
  pipeline: 'kappa.dlq.pipeline',
  step: 'kappa.dlq.step',
  errorClass: 'kappa.dlq.error.class',
  message: 'kappa.dlq.error.message',
  topic: 'kappa.dlq.source.topic',
  partition: 'kappa.dlq.source.partition',
  offset: 'kappa.dlq.source.offset',
  eventTime: 'kappa.dlq.event.time',
  kind: 'kappa.dlq.kind',
  truncated: 'kappa.dlq.truncated',
} as const;

/** A dead letter as a record of the dead-letter topic: the original key and value, and why in headers. */
export function deadLetterRecord(topic: string, letter: DeadLetter): ProducerRecord {
  const headers: Headers = {
    ...letter.headers,
    [DLQ_HEADERS.reason]: Buffer.from(letter.reason),
    [DLQ_HEADERS.pipeline]: Buffer.from(letter.pipeline),
    [DLQ_HEADERS.step]: Buffer.from(letter.step),
    [DLQ_HEADERS.errorClass]: Buffer.from(letter.errorClass),
    // Messages can be long (a stack of causes): the first 1,000 characters say enough.
    [DLQ_HEADERS.message]: Buffer.from(letter.message.slice(0, 1000)),
    [DLQ_HEADERS.topic]: Buffer.from(letter.topic),
    [DLQ_HEADERS.partition]: Buffer.from(String(letter.partition)),
    [DLQ_HEADERS.offset]: Buffer.from(String(letter.offset)),
  };
  if (letter.eventTime !== undefined) headers[DLQ_HEADERS.eventTime] = Buffer.from(String(letter.eventTime));
  headers[DLQ_HEADERS.kind] = Buffer.from(letter.kind);
  if (letter.truncated) headers[DLQ_HEADERS.truncated] = Buffer.from('1');
  return { topic, key: letter.key, value: letter.value, headers };
}

/** Reads a dead letter back from a record's headers; null when the record is not one. */
export function readDeadLetter(record: {
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}): DeadLetter | null {
  const h = (name: string) => record.headers[name]?.toString('utf8');
  const reason = h(DLQ_HEADERS.reason);
  const topic = h(DLQ_HEADERS.topic);
  if (reason === undefined || topic === undefined) return null;
  const eventTime = h(DLQ_HEADERS.eventTime);
  const partition = Number(h(DLQ_HEADERS.partition) ?? -1);
  return {
    reason: reason as DeadLetterReason,
    pipeline: h(DLQ_HEADERS.pipeline) ?? '',
    step: h(DLQ_HEADERS.step) ?? '',
    errorClass: h(DLQ_HEADERS.errorClass) ?? '',
    message: h(DLQ_HEADERS.message) ?? '',
    topic,
    partition,
    offset: Number(h(DLQ_HEADERS.offset) ?? -1),
    key: record.key,
    value: record.value,
    ...(eventTime === undefined ? {} : { eventTime: Number(eventTime) }),
    // Letters written before the kind header: a result's has no source partition.
    kind: (h(DLQ_HEADERS.kind) ?? (partition < 0 ? 'result' : 'record')) === 'result' ? 'result' : 'record',
    ...(h(DLQ_HEADERS.truncated) === '1' ? { truncated: true } : {}),
    headers: Object.fromEntries(
      Object.entries(record.headers).filter(([name]) => !name.startsWith('kappa.dlq.')),
    ),
  };
}
