import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from '../../core/index.ts';
import { ProduceRefusedError } from './producer-errors.ts';
import type { Delivered, EncodedRecord, Transport } from './record-batch.ts';

export interface HttpTransportOptions {
  url: string;
  apiKey?: string;
  /** One request's time before it counts as failed and is sent again. Default 30 s. */
  requestTimeoutMs: number;
  /** How long a batch is retried before its records fail. Default 2 minutes. */
  deliveryTimeoutMs: number;
  /** The first retry's wait, doubled each time up to 5 s (plus jitter). Default 100 ms. */
  retryBackoffMs: number;
}

/**
 * Produce over HTTP (REST Proxy v2, binary format: the bytes as the producer made them), each
 * request numbered for this producer (`Kappa-Producer-Id`, `Kappa-Sequence`) so that Kappa appends
 * a request once however often it is sent. A dropped connection, a timeout, a 5xx or a 429 (after
 * its Retry-After) send the same request again; a 413 (more than the server takes in one request)
 * sends it in halves; other 4xx fail its records.
 */
export class HttpTransport implements Transport {
  readonly #o: HttpTransportOptions;
  readonly #id = `sdk-${randomUUID()}`;
  #sequence = 0;

  constructor(options: HttpTransportOptions) {
    this.#o = { ...options, url: options.url.replace(/\/+$/, '') };
  }

  async send(topic: string, records: readonly EncodedRecord[]): Promise<Delivered[]> {
    const sequence = this.#sequence++;
    const body = JSON.stringify({
      records: records.map((r) => ({
        key: r.key?.toString('base64') ?? null,
        value: r.value?.toString('base64') ?? null,
        ...(r.partition === undefined ? {} : { partition: r.partition }),
        ...(r.headers
          ? { headers: Object.entries(r.headers).map(([name, v]) => ({ name, value: v.toString('base64') })) }
          : {}),
      })),
    });
    const headers: Record<string, string> = {
      'content-type': 'application/vnd.kafka.binary.v2+json',
      'kappa-producer-id': this.#id,
      'kappa-sequence': String(sequence),
      ...(this.#o.apiKey ? { authorization: `Bearer ${this.#o.apiKey}` } : {}),
    };
    const deadline = Date.now() + this.#o.deliveryTimeoutMs;
    let lastError = '';
    for (let attempt = 0; ; attempt++) {
      let wait = Math.min(this.#o.retryBackoffMs * 2 ** attempt, 5000) * (1 + Math.random() * 0.2);
      try {
        const response = await fetch(`${this.#o.url}/topics/${encodeURIComponent(topic)}`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.#o.requestTimeoutMs),
        });
        const text = await response.text();
        const answer = parse(text);
        if (response.ok) {
          const offsets = (answer.offsets ?? []) as Array<{
            partition: number | null;
            offset: number | null;
          }>;
          return records.map((_r, i) => ({
            topic,
            partition: offsets[i]?.partition ?? null,
            offset: offsets[i]?.offset ?? null,
          }));
        }
        const message = typeof answer.message === 'string' ? answer.message : text.slice(0, 200);
        // Over the server's records or bytes per request (nothing was appended): in halves.
        if (response.status === 413 && records.length > 1) {
          const half = Math.ceil(records.length / 2);
          return [
            ...(await this.send(topic, records.slice(0, half))),
            ...(await this.send(topic, records.slice(half))),
          ];
        }
        if (response.status !== 429 && response.status < 500 && response.status !== 408)
          throw new ProduceRefusedError(response.status, (answer.error_code as number) ?? null, message);
        lastError = `${response.status} ${message}`;
        const after = Number(response.headers.get('retry-after'));
        if (Number.isFinite(after) && after > 0) wait = after * 1000;
      } catch (error) {
        if (error instanceof ProduceRefusedError) throw error;
        lastError = (error as Error).message;
      }
      if (Date.now() + wait > deadline)
        throw new TimeoutError(
          `Produce to ${topic} failed for ${this.#o.deliveryTimeoutMs} ms (${attempt + 1} attempts; last: ${lastError}): the records may or may not have been appended`,
        );
      await sleep(wait);
    }
  }

  async close(): Promise<void> {}
}

function parse(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : {};
  } catch {
    return {};
  }
}
