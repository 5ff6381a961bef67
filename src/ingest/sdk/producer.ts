import { InvalidArgumentError } from '../../core/index.ts';
import type { Bus } from '../../log/index.ts';
import {
  avroProvider,
  encodeMessageIndexes,
  frame,
  jsonSchemaProvider,
  LATEST,
  type ParsedSchema,
  protobufProvider,
  type SchemaRegistry,
  type SchemaType,
} from '../../registry/index.ts';
import { Batcher, type BatchOptions } from './batcher.ts';
import { BusTransport } from './bus-transport.ts';
import { HttpTransport } from './http-transport.ts';
import { type Delivered, encodeRecord, type OutgoingRecord, type Transport } from './record-batch.ts';

export interface HttpProducerOptions extends Partial<BatchOptions> {
  /** A running Kappa: `http://localhost:8080`. */
  url: string;
  apiKey?: string;
  requestTimeoutMs?: number;
  deliveryTimeoutMs?: number;
  retryBackoffMs?: number;
}

export interface BusProducerOptions extends Partial<BatchOptions> {
  /** Produce in process onto this bus. */
  bus: Bus;
  /** For `topic<T>()`: the registry whose schemas values are checked against. */
  registry?: SchemaRegistry;
}

export interface KappaProducer {
  /** Sends a record (batched with others); resolves once it is durable on the bus. */
  send(topic: string, record: OutgoingRecord): Promise<Delivered>;
  /**
   * A topic whose values are checked against the latest schema of `<topic>-value` (or `subject`)
   * and written in Confluent's wire format with it: a value that does not fit rejects at once,
   * naming the field, and is not sent. `kappa schemas codegen` writes the type `T`.
   */
  topic<T>(name: string, options?: { subject?: string }): TypedTopic<T>;
  /** Sends what is waiting now, and resolves once everything sent so far is delivered. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface TypedTopic<T> {
  readonly name: string;
  send(value: T, options?: Omit<OutgoingRecord<T>, 'value'>): Promise<Delivered>;
}

/**
 * Kappa's producer: `createProducer({ url, apiKey })` over HTTP, `createProducer({ bus })` in
 * process. Records are batched per topic (up to `lingerMs`, `batchRecords`, `batchBytes`) and sent
 * one batch at a time, so they arrive in the order they were sent; over HTTP each batch is retried
 * until it is delivered (or `deliveryTimeoutMs` passes) and appended once, however often it was sent.
 */
export function createProducer(options: HttpProducerOptions | BusProducerOptions): KappaProducer {
  const batch: BatchOptions = {
    lingerMs: options.lingerMs ?? 5,
    batchRecords: options.batchRecords ?? 10_000,
    batchBytes: options.batchBytes ?? 4 * 1024 * 1024,
  };
  let transport: Transport;
  let schemaOf: (subject: string) => Promise<{ id: number; parsed: ParsedSchema }>;
  if ('bus' in options) {
    transport = new BusTransport(options.bus);
    const { registry } = options;
    schemaOf = async (subject) => {
      if (!registry)
        throw new InvalidArgumentError('topic<T>() in process needs createProducer({ bus, registry })');
      const latest = registry.version(subject, LATEST);
      return { id: latest.id, parsed: registry.parsed(latest) };
    };
  } else {
    if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url))
      throw new InvalidArgumentError(
        `createProducer: url must be http(s)://…, got ${JSON.stringify(options.url)}`,
      );
    transport = new HttpTransport({
      url: options.url,
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000,
      retryBackoffMs: options.retryBackoffMs ?? 100,
    });
    schemaOf = (subject) => fetchSchema(options.url, options.apiKey, subject);
  }
  const batcher = new Batcher(transport, batch);
  let closed = false;
  const send = (topic: string, record: OutgoingRecord, value?: Buffer | null) => {
    if (closed) return Promise.reject(new InvalidArgumentError('The producer is closed'));
    return batcher.add(topic, encodeRecord(record, value));
  };
  return {
    send: (topic, record) => {
      try {
        return send(topic, record);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    topic<T>(name: string, topicOptions: { subject?: string } = {}): TypedTopic<T> {
      let schema: Promise<{ id: number; parsed: ParsedSchema }> | null = null;
      return {
        name,
        send: async (value, rest = {}) => {
          schema ??= schemaOf(topicOptions.subject ?? `${name}-value`);
          const { id, parsed } = await schema;
          const { payload, indexes } = parsed.codec().encode(value);
          return send(name, { ...rest, value }, frame(id, payload, indexes && encodeMessageIndexes(indexes)));
        },
      };
    },
    flush: () => batcher.flush(),
    close: async () => {
      closed = true;
      await batcher.flush();
      await transport.close();
    },
  };
}

const PROVIDERS: Record<SchemaType, typeof avroProvider> = {
  AVRO: avroProvider,
  JSON: jsonSchemaProvider,
  PROTOBUF: protobufProvider,
};

async function fetchSchema(
  url: string,
  apiKey: string | undefined,
  subject: string,
): Promise<{ id: number; parsed: ParsedSchema }> {
  const response = await fetch(
    `${url.replace(/\/+$/, '')}/subjects/${encodeURIComponent(subject)}/versions/latest`,
    { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} },
  );
  const body = (await response.json().catch(() => ({}))) as {
    id?: number;
    schema?: string;
    schemaType?: SchemaType;
    references?: unknown[];
    message?: string;
  };
  if (!response.ok || body.id === undefined || body.schema === undefined)
    throw new InvalidArgumentError(
      `No schema for subject ${subject} (${response.status}${body.message ? `: ${body.message}` : ''}): register one first`,
    );
  if (body.references && body.references.length > 0)
    throw new InvalidArgumentError(
      `Subject ${subject}'s schema has references, which the producer does not resolve yet`,
    );
  return { id: body.id, parsed: PROVIDERS[body.schemaType ?? 'AVRO'].parse(body.schema, []) };
}
