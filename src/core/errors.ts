/**
 * Every error Kappa raises is a KappaError with a stable `code` and a class of blame.
 * The blame decides what the engine does with it: `user` and `data` errors are the caller's
 * (bad input, a poison record: reject it or dead-letter it), `external` errors come from a
 * server or the disk and are worth retrying with backoff, `internal` errors are our bugs and stop
 * the task. Codes never change meaning once released; docs/errors.md says what to do about each.
 */
export type Blame = 'user' | 'data' | 'external' | 'internal';

export const ErrorCodes = {
  INVALID_ARGUMENT: 'KAPPA_INVALID_ARGUMENT',
  INVALID_DURATION: 'KAPPA_INVALID_DURATION',
  INVALID_TOPIC_NAME: 'KAPPA_INVALID_TOPIC_NAME',
  UNKNOWN_TOPIC: 'KAPPA_UNKNOWN_TOPIC',
  TOPIC_EXISTS: 'KAPPA_TOPIC_EXISTS',
  UNKNOWN_PARTITION: 'KAPPA_UNKNOWN_PARTITION',
  OFFSET_OUT_OF_RANGE: 'KAPPA_OFFSET_OUT_OF_RANGE',
  RECORD_TOO_LARGE: 'KAPPA_RECORD_TOO_LARGE',
  TRANSACTION_TOO_LARGE: 'KAPPA_TRANSACTION_TOO_LARGE',
  INVALID_TRANSACTION_STATE: 'KAPPA_INVALID_TRANSACTION_STATE',
  PRODUCER_FENCED: 'KAPPA_PRODUCER_FENCED',
  GROUP_FENCED: 'KAPPA_GROUP_FENCED',
  GROUP_NOT_EMPTY: 'KAPPA_GROUP_NOT_EMPTY',
  BUS_CLOSED: 'KAPPA_BUS_CLOSED',
  DATA_DIR_LOCKED: 'KAPPA_DATA_DIR_LOCKED',
  CORRUPT_LOG: 'KAPPA_CORRUPT_LOG',
  IO: 'KAPPA_IO',
  CONNECTION: 'KAPPA_CONNECTION',
  AUTHENTICATION: 'KAPPA_AUTHENTICATION',
  CONFIG_INVALID: 'KAPPA_CONFIG_INVALID',
  TIMEOUT: 'KAPPA_TIMEOUT',
  SCHEMA_INVALID: 'KAPPA_SCHEMA_INVALID',
  SCHEMA_INCOMPATIBLE: 'KAPPA_SCHEMA_INCOMPATIBLE',
  SCHEMA_NOT_FOUND: 'KAPPA_SCHEMA_NOT_FOUND',
  SCHEMA_OPERATION_REJECTED: 'KAPPA_SCHEMA_OPERATION_REJECTED',
  RECORD_INVALID: 'KAPPA_RECORD_INVALID',
  RECORD_LATE: 'KAPPA_RECORD_LATE',
  UNAUTHENTICATED: 'KAPPA_UNAUTHENTICATED',
  FORBIDDEN: 'KAPPA_FORBIDDEN',
  LIMIT_EXCEEDED: 'KAPPA_LIMIT_EXCEEDED',
  STATE_STORE: 'KAPPA_STATE_STORE',
  VIEW_ROW_INVALID: 'KAPPA_VIEW_ROW_INVALID',
  UNKNOWN_VIEW: 'KAPPA_UNKNOWN_VIEW',
  VIEW_VERSION: 'KAPPA_VIEW_VERSION',
  VIEW_STORE: 'KAPPA_VIEW_STORE',
  QUERY_INVALID: 'KAPPA_QUERY_INVALID',
  QUERY_REFUSED: 'KAPPA_QUERY_REFUSED',
  CDC_SETUP: 'KAPPA_CDC_SETUP',
  CDC_REPLICATION: 'KAPPA_CDC_REPLICATION',
  CDC_ROW: 'KAPPA_CDC_ROW',
  OBJECT_STORE: 'KAPPA_OBJECT_STORE',
  OBJECT_NOT_FOUND: 'KAPPA_OBJECT_NOT_FOUND',
  ARCHIVE_FORMAT: 'KAPPA_ARCHIVE_FORMAT',
  ARCHIVE_CORRUPT: 'KAPPA_ARCHIVE_CORRUPT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface KappaErrorOptions {
  cause?: unknown;
  /** Whether the same call may succeed if tried again later. */
  retriable?: boolean;
  details?: Record<string, unknown>;
}

export class KappaError extends Error {
  readonly code: ErrorCode;
  readonly blame: Blame;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, blame: Blame, message: string, options: KappaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.blame = blame;
    this.retriable = options.retriable ?? blame === 'external';
    this.details = options.details;
  }
}

export class InvalidArgumentError extends KappaError {
  constructor(message: string, options?: KappaErrorOptions) {
    super(ErrorCodes.INVALID_ARGUMENT, 'user', message, options);
  }
}

export class InvalidDurationError extends KappaError {
  constructor(input: unknown) {
    super(
      ErrorCodes.INVALID_DURATION,
      'user',
      `Invalid duration ${JSON.stringify(input)}: use a number of milliseconds or a string such as '250ms', '30s', '5m', '2h', '7d'`,
    );
  }
}

export class InvalidTopicNameError extends KappaError {
  constructor(name: unknown, reason: string) {
    super(ErrorCodes.INVALID_TOPIC_NAME, 'user', `Invalid topic name ${JSON.stringify(name)}: ${reason}`);
  }
}

export class UnknownTopicError extends KappaError {
  readonly topic: string;
  constructor(topic: string) {
    super(ErrorCodes.UNKNOWN_TOPIC, 'user', `Topic '${topic}' does not exist`);
    this.topic = topic;
  }
}

export class TopicExistsError extends KappaError {
  constructor(topic: string) {
    super(ErrorCodes.TOPIC_EXISTS, 'user', `Topic '${topic}' already exists`);
  }
}

export class UnknownPartitionError extends KappaError {
  constructor(topic: string, partition: number, partitions: number) {
    super(
      ErrorCodes.UNKNOWN_PARTITION,
      'user',
      `Partition ${partition} of topic '${topic}' does not exist (the topic has ${partitions} partition${partitions === 1 ? '' : 's'}: 0..${partitions - 1})`,
    );
  }
}

export class OffsetOutOfRangeError extends KappaError {
  constructor(topic: string, partition: number, offset: number, start: number, end: number) {
    super(
      ErrorCodes.OFFSET_OUT_OF_RANGE,
      'user',
      `Offset ${offset} is out of range for ${topic}-${partition}: valid offsets are ${start} to ${end} (the end waits for new records)`,
      { details: { topic, partition, offset, start, end } },
    );
  }
}

export class RecordTooLargeError extends KappaError {
  constructor(size: number, limit: number, where = 'record') {
    super(
      ErrorCodes.RECORD_TOO_LARGE,
      'user',
      `The ${where} is ${size} bytes, over the limit of ${limit} bytes (raise maxRecordBytes if this is intended)`,
      { details: { size, limit } },
    );
  }
}

export class TransactionTooLargeError extends KappaError {
  constructor(size: number, limit: number) {
    super(
      ErrorCodes.TRANSACTION_TOO_LARGE,
      'user',
      `The transaction holds ${size} bytes, over the limit of ${limit} bytes: commit in smaller transactions`,
    );
  }
}

export class InvalidTransactionStateError extends KappaError {
  constructor(message: string) {
    super(ErrorCodes.INVALID_TRANSACTION_STATE, 'user', message);
  }
}

export class ProducerFencedError extends KappaError {
  constructor(transactionalId: string) {
    super(
      ErrorCodes.PRODUCER_FENCED,
      'user',
      `Producer with transactional id '${transactionalId}' was fenced: a newer producer with the same id has started; this one must stop`,
    );
  }
}

export class GroupFencedError extends KappaError {
  constructor(group: string, generation: number) {
    super(
      ErrorCodes.GROUP_FENCED,
      'external',
      `Group '${group}' has rebalanced since generation ${generation}: another member may own these partitions now; abort, and read again from the committed offsets`,
      { retriable: false, details: { group, generation } },
    );
  }
}

export class GroupNotEmptyError extends KappaError {
  constructor(group: string, members: number) {
    super(
      ErrorCodes.GROUP_NOT_EMPTY,
      'user',
      `Group '${group}' has ${members} live member${members === 1 ? '' : 's'}: they would commit over new offsets; stop them first (the pipeline's kappa up or workers)`,
      { retriable: true, details: { group, members } },
    );
  }
}

export class BusClosedError extends KappaError {
  constructor(what = 'bus') {
    super(ErrorCodes.BUS_CLOSED, 'user', `The ${what} is closed`);
  }
}

export class DataDirLockedError extends KappaError {
  constructor(dir: string, pid: number) {
    super(
      ErrorCodes.DATA_DIR_LOCKED,
      'user',
      `The data directory ${dir} is in use by process ${pid}; stop that process or choose another --data-dir`,
    );
  }
}

export class CorruptLogError extends KappaError {
  constructor(message: string, options?: KappaErrorOptions) {
    super(ErrorCodes.CORRUPT_LOG, 'internal', message, options);
  }
}

export class IoError extends KappaError {
  constructor(message: string, cause: unknown) {
    super(ErrorCodes.IO, 'external', message, { cause });
  }
}

/** A server (Kafka, a database...) could not be reached or dropped the connection. */
export class ConnectionError extends KappaError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.CONNECTION, 'external', message, { cause });
  }
}

/** A server refused our credentials or we refused its certificate: the config must change. */
export class AuthenticationError extends KappaError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.AUTHENTICATION, 'user', message, { cause });
  }
}

export class ConfigError extends KappaError {
  constructor(message: string, options?: KappaErrorOptions) {
    super(ErrorCodes.CONFIG_INVALID, 'user', message, options);
  }
}

export class TimeoutError extends KappaError {
  constructor(message: string) {
    super(ErrorCodes.TIMEOUT, 'external', message);
  }
}

/** A request carried no API key, or one that no configured key matches. */
export class UnauthenticatedError extends KappaError {
  constructor(message: string) {
    super(ErrorCodes.UNAUTHENTICATED, 'user', message);
  }
}

/** The caller is known but may not do this: its key lacks the scope, or the thing is Kappa's own. */
export class ForbiddenError extends KappaError {
  constructor(message: string) {
    super(ErrorCodes.FORBIDDEN, 'user', message);
  }
}

/** A configured bound (partitions per topic, partitions in all...) would be passed. */
export class LimitExceededError extends KappaError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCodes.LIMIT_EXCEEDED, 'user', message, details ? { details } : {});
  }
}

export function isKappaError(error: unknown): error is KappaError {
  return error instanceof KappaError;
}
