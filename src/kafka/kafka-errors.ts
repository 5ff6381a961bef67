import {
  GroupFencedError,
  InvalidArgumentError,
  IoError,
  isKappaError,
  type KappaError,
  ProducerFencedError,
  RecordTooLargeError,
  TopicExistsError,
  UnknownTopicError,
} from '../core/index.ts';

/** The Kafka protocol error ids (e.g. 'TOPIC_ALREADY_EXISTS') inside a @platformatic/kafka error, however nested. */
export function protocolErrorIds(error: unknown): string[] {
  const ids: string[] = [];
  const visit = (e: unknown, depth: number) => {
    if (depth > 6 || e === null || typeof e !== 'object') return;
    const apiId = (e as { apiId?: unknown }).apiId;
    if (typeof apiId === 'string') ids.push(apiId);
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) visit(inner, depth + 1);
    visit((e as { cause?: unknown }).cause, depth + 1);
  };
  visit(error, 0);
  return ids;
}

/** Maps what the Kafka client throws to Kappa's typed errors, so callers handle one set of codes whatever the bus. */
export function toKappaError(
  error: unknown,
  context: { topic?: string; transactionalId?: string; group?: string; generation?: number } = {},
): KappaError {
  if (isKappaError(error)) return error;
  const ids = protocolErrorIds(error);
  const message = (error as Error)?.message ?? String(error);
  if (ids.includes('TOPIC_ALREADY_EXISTS') && context.topic) return new TopicExistsError(context.topic);
  // The client itself reports a topic missing from metadata as a UserError 'Unknown topic <name>.'.
  if (
    ids.includes('UNKNOWN_TOPIC_OR_PARTITION') ||
    ids.includes('UNKNOWN_TOPIC_ID') ||
    /^Unknown topic /.test(message)
  ) {
    return new UnknownTopicError(context.topic ?? '(unknown)');
  }
  if (
    ids.includes('INVALID_PRODUCER_EPOCH') ||
    ids.includes('PRODUCER_FENCED') ||
    ids.includes('TRANSACTIONAL_ID_AUTHORIZATION_FAILED')
  ) {
    return new ProducerFencedError(context.transactionalId ?? '(unknown)');
  }
  if (
    context.group !== undefined &&
    ['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'REBALANCE_IN_PROGRESS'].some((id) =>
      ids.includes(id),
    )
  ) {
    return new GroupFencedError(context.group, context.generation ?? -1);
  }
  if (ids.includes('MESSAGE_TOO_LARGE') || ids.includes('RECORD_LIST_TOO_LARGE'))
    return new RecordTooLargeError(-1, -1, 'batch');
  if (
    ids.includes('INVALID_TOPIC_EXCEPTION') ||
    ids.includes('INVALID_PARTITIONS') ||
    ids.includes('INVALID_CONFIG') ||
    ids.includes('INVALID_REPLICATION_FACTOR')
  ) {
    return new InvalidArgumentError(`Kafka refused: ${message}`, { cause: error });
  }
  return new IoError(`Kafka: ${message}`, error);
}
