import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { SASLOptions } from '@platformatic/kafka';
import { protocolErrorIds } from './kafka-errors.ts';

/** How to reach a Kafka cluster (self-hosted, MSK, Redpanda...). */
export interface KafkaBusOptions {
  /** `host:port` of one or more brokers. */
  brokers: string[];
  clientId?: string;
  /** TLS settings as for node:tls; `true` means TLS with the system's CAs. */
  tls?: TlsOptions | boolean;
  /** SASL PLAIN or SCRAM-SHA-256/512. */
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
  /**
   * Largest record accepted client-side (key + value + headers). Default 1,000,000 bytes, which with
   * its framing fits the broker's default max.message.bytes (1,048,588).
   */
  maxRecordBytes?: number;
  /**
   * Largest batch for one partition in one produce request; a bigger send() is split into several
   * requests. Default 1,000,000 bytes; keep it under the broker's (or topic's) max.message.bytes.
   */
  maxBatchBytes?: number;
  /** Replicas of topics Kappa creates; -1 (the default) lets the broker decide. */
  replicationFactor?: number;
  /** Producer batch compression. */
  compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /** Request timeout in ms. */
  timeoutMs?: number;
  /** How often a failed request is tried again (backing off 100 ms, doubling to 1 s) before the error surfaces. Default 5. */
  retries?: number;
}

/** The connection part every @platformatic/kafka client takes. */
export function connectionOptions(options: KafkaBusOptions, role: string) {
  const sasl: SASLOptions | undefined = options.sasl
    ? { mechanism: options.sasl.mechanism, username: options.sasl.username, password: options.sasl.password }
    : undefined;
  return {
    clientId: `${options.clientId ?? 'kappa'}-${role}`,
    bootstrapBrokers: options.brokers,
    ...(options.tls === undefined || options.tls === false
      ? {}
      : { tls: options.tls === true ? {} : options.tls }),
    ...(sasl ? { sasl } : {}),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    retries: options.retries ?? 5,
    retryDelay,
  };
}

/**
 * Backoff between retries. The client's fixed 1 s delay is far too long for CONCURRENT_TRANSACTIONS,
 * which a broker answers while the previous transaction's markers are still being written (a few
 * ms): with it every transaction after the first took a second. The Java client retries that one
 * after 20 ms too.
 */
function retryDelay(
  _client: unknown,
  _operation: string,
  attempt: number,
  _retries: number,
  error: unknown,
): number {
  const ids = protocolErrorIds(error);
  if (ids.includes('CONCURRENT_TRANSACTIONS')) return 20 * attempt;
  // A topic that does not exist mostly stays that way: answer "unknown topic" in a fraction of a
  // second, not after the whole backoff (a topic Kappa creates is waited for in createTopic).
  if (ids.includes('UNKNOWN_TOPIC_OR_PARTITION') || ids.includes('UNKNOWN_TOPIC_ID')) return 20 * attempt;
  return Math.min(1000, 100 * 2 ** (attempt - 1));
}
