import {
  AuthenticationError,
  ConnectionError,
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

interface Nested {
  message?: string;
  code?: unknown;
  apiId?: unknown;
  errors?: unknown[];
  cause?: unknown;
}

/** Every error inside a @platformatic/kafka error (it nests retries and per-broker failures), outermost first. */
function flatten(error: unknown): Nested[] {
  const out: Nested[] = [];
  const visit = (e: unknown, depth: number) => {
    if (depth > 10 || e === null || typeof e !== 'object') return;
    const nested = e as Nested;
    out.push(nested);
    for (const inner of nested.errors ?? []) visit(inner, depth + 1);
    visit(nested.cause, depth + 1);
  };
  visit(error, 0);
  return out;
}

/** The Kafka protocol error ids (e.g. 'TOPIC_ALREADY_EXISTS') inside a client error, however nested. */
export function protocolErrorIds(error: unknown): string[] {
  return flatten(error).flatMap((e) => (typeof e.apiId === 'string' ? [e.apiId] : []));
}

// Node's TLS verification failures: the broker's certificate is not one we trust.
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
const GROUP_FENCING = [
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'FENCED_INSTANCE_ID',
  'REBALANCE_IN_PROGRESS',
];

/**
 * Maps what the Kafka client throws to Kappa's typed errors, so callers handle one set of codes
 * whatever the bus, and people read the cause (refused connection, bad password, untrusted
 * certificate) instead of the client's "metadata failed 4 times".
 */
export function toKappaError(
  error: unknown,
  context: { topic?: string; transactionalId?: string; group?: string; generation?: number } = {},
): KappaError {
  if (isKappaError(error)) return error;
  const all = flatten(error);
  const ids = all.flatMap((e) => (typeof e.apiId === 'string' ? [e.apiId] : []));
  const codes = all.flatMap((e) => (typeof e.code === 'string' ? [e.code] : []));
  const message = (error as Error)?.message ?? String(error);
  const root = all.at(-1)?.message ?? message;
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
  if (context.group !== undefined && GROUP_FENCING.some((id) => ids.includes(id))) {
    return new GroupFencedError(context.group, context.generation ?? -1);
  }
  if (ids.includes('MESSAGE_TOO_LARGE') || ids.includes('RECORD_LIST_TOO_LARGE'))
    return new RecordTooLargeError(-1, -1, 'batch');
  if (
    ['INVALID_TOPIC_EXCEPTION', 'INVALID_PARTITIONS', 'INVALID_CONFIG', 'INVALID_REPLICATION_FACTOR'].some(
      (id) => ids.includes(id),
    )
  ) {
    return new InvalidArgumentError(`Kafka refused: ${root}`, { cause: error });
  }
  const where = all.map((e) => /^Connection to (\S+) failed/.exec(e.message ?? '')?.[1]).find(Boolean);
  const at = where ? ` at ${where}` : '';
  if (ids.includes('SASL_AUTHENTICATION_FAILED') || codes.includes('PLT_KFK_AUTHENTICATION')) {
    return new AuthenticationError(
      `Kafka${at} refused the SASL credentials: ${root} Check bus.sasl (mechanism, username, password).`,
      error,
    );
  }
  const tls = codes.find((c) => TLS_CODES.test(c));
  if (tls) {
    return new AuthenticationError(
      `Kafka${at}: the TLS handshake failed (${tls}: ${root}). Set bus.tls.ca to the CA that signed the broker's certificate.`,
      error,
    );
  }
  const network = codes.find((c) => NETWORK_CODES.has(c));
  if (network) return new ConnectionError(`Cannot reach Kafka${at}: ${root}`, error);
  if (codes.includes('PLT_KFK_NETWORK')) {
    return new ConnectionError(
      `Kafka${at} closed the connection (${root}). If the listener expects TLS or SASL, set bus.tls or bus.sasl.`,
      error,
    );
  }
  return new IoError(`Kafka: ${root === message ? message : `${message} (${root})`}`, error);
}
