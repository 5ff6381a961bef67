import type { FastifyInstance } from 'fastify';
import { ForbiddenError, type ProducerRecord } from '../../core/index.ts';
import { type Bus, ensureTopic, type Producer } from '../../log/index.ts';
import type { SchemaRegistry, WireSerde } from '../../registry/index.ts';
import { produceFormat } from '../content-types.ts';
import { RequestError } from '../errors.ts';
import { type IdempotentProduce, producerHeaders } from '../idempotence.ts';
import { encodeField } from '../record-codec.ts';
import { encodeSchemaRecords, type SchemaRequestBody } from '../schema-records.ts';

export interface ProduceRouteOptions {
  bus: Bus;
  producer: Producer;
  /** Kappa's own topics, which no request may write. */
  owned: (topic: string) => boolean;
  maxRecordsPerRequest: number;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  /** For the avro, jsonschema and protobuf formats. */
  registry?: { registry: SchemaRegistry; serde: WireSerde };
  /** Topics whose values must be written with a schema registered under `<topic>-value`. */
  requireSchema?: (topic: string) => boolean;
  /** Requests with `Kappa-Producer-Id` and `Kappa-Sequence` headers are appended once, retries or not. */
  idempotence: IdempotentProduce;
  /**
   * Bytes of records waiting to be appended, past which a request is answered 429 with Retry-After
   * (the log is behind) rather than held in memory. A request alone is always taken.
   */
  maxPendingBytes: number;
}

/**
 * Confluent REST Proxy v2 produce: `POST /topics/{topic}` and `POST /topics/{topic}/partitions/{p}`.
 * The whole request is checked before anything is written, and the bus rejects a batch as a whole, so
 * a rejected request appends nothing.
 */
export function produceRoutes(app: FastifyInstance, options: ProduceRouteOptions): void {
  let pending = 0;
  /** Appends `records` if the log keeps up (see maxPendingBytes), else refuses them all with 429. */
  const admitted = async <T>(records: ProducerRecord[], append: () => Promise<T>): Promise<T> => {
    const bytes = records.reduce((n, r) => n + (r.key?.length ?? 0) + (r.value?.length ?? 0), 0);
    if (pending > 0 && pending + bytes > options.maxPendingBytes)
      throw new RequestError(
        429,
        42901,
        `The log is behind: ${pending} bytes of records are waiting to be appended; retry in a second`,
      );
    pending += bytes;
    try {
      return await append();
    } finally {
      pending -= bytes;
    }
  };
  const handler = async (
    topic: string,
    partition: number | undefined,
    contentType: string | undefined,
    body: unknown,
    producer: { id: string; sequence: number } | null,
  ) => {
    if (options.owned(topic))
      throw new ForbiddenError(
        `Topic '${topic}' is internal to Kappa: only Kappa writes it (produce to a topic of your own)`,
      );
    const format = produceFormat(contentType);
    if (format === 'unsupported') {
      throw new RequestError(
        415,
        415,
        `Unsupported content type '${contentType ?? ''}': use application/vnd.kafka.{json,binary,avro,jsonschema,protobuf}.v2+json or application/json`,
      );
    }
    const raw = parseRecords(body, options.maxRecordsPerRequest);
    const mustHaveSchema = options.requireSchema?.(topic) ?? false;
    let keys: Array<Buffer | null>;
    let values: Array<Buffer | null>;
    let keySchemaId: number | null = null;
    let valueSchemaId: number | null = null;
    if (format === 'json' || format === 'binary') {
      if (mustHaveSchema && format === 'json') throw new RequestError(422, 42202, requiredMessage(topic));
      keys = raw.map((r, i) => encodeField(r.key, format, `records[${i}].key`));
      values = raw.map((r, i) => encodeField(r.value, format, `records[${i}].value`));
      if (mustHaveSchema) for (const [i, v] of values.entries()) checkWireFormat(options, topic, v, i);
    } else {
      if (!options.registry)
        throw new RequestError(
          415,
          415,
          `The ${format} format needs the schema registry, which this server does not run`,
        );
      ({ keys, values, keySchemaId, valueSchemaId } = await encodeSchemaRecords(
        topic,
        format,
        body as SchemaRequestBody,
        options.registry.registry,
        options.registry.serde,
      ));
      if (mustHaveSchema && valueSchemaId !== null && !heldBy(options, valueSchemaId, `${topic}-value`))
        throw new RequestError(
          422,
          42202,
          `${requiredMessage(topic)}; schema ${valueSchemaId} is not a version of ${topic}-value`,
        );
    }
    const records = raw.map((r, i): ProducerRecord => {
      const record: ProducerRecord = { topic, key: keys[i]!, value: values[i]! };
      const p = partition ?? r.partition;
      if (p !== undefined && p !== null) record.partition = p;
      if (r.headers !== undefined) record.headers = recordHeaders(r.headers, i);
      return record;
    });
    await autoCreate(options, topic);
    if (producer) {
      const { offsets, duplicate } = await options.idempotence.append(
        producer.id,
        producer.sequence,
        records,
      );
      return {
        key_schema_id: keySchemaId,
        value_schema_id: valueSchemaId,
        offsets: (offsets ?? records.map(() => ({ partition: null, offset: null }))).map((m) => ({
          partition: m.partition,
          offset: m.offset,
          error_code: null,
          error: null,
        })),
        // A Kappa extension: this request was appended before (a retry), and not again.
        ...(duplicate ? { duplicate: true } : {}),
      };
    }
    const sent = await admitted(records, () => options.producer.send(records));
    return {
      key_schema_id: keySchemaId,
      value_schema_id: valueSchemaId,
      offsets: sent.map((m) => ({ partition: m.partition, offset: m.offset, error_code: null, error: null })),
    };
  };

  app.post<{ Params: { topic: string } }>('/topics/:topic', (request, reply) =>
    handler(
      request.params.topic,
      undefined,
      request.headers['content-type'],
      request.body,
      producerHeaders(request.headers),
    ).then((body) => reply.type('application/vnd.kafka.v2+json').send(body)),
  );
  app.post<{ Params: { topic: string; partition: string } }>(
    '/topics/:topic/partitions/:partition',
    (request, reply) =>
      handler(
        request.params.topic,
        parsePartition(request.params.partition),
        request.headers['content-type'],
        request.body,
        producerHeaders(request.headers),
      ).then((body) => reply.type('application/vnd.kafka.v2+json').send(body)),
  );
}

function requiredMessage(topic: string): string {
  return `Topic '${topic}' requires records written with a schema: use the avro, jsonschema or protobuf format, or binary values in Confluent's wire format with a schema of ${topic}-value`;
}

function heldBy(options: ProduceRouteOptions, id: number, subject: string): boolean {
  try {
    return options.registry!.registry.versionsOfId(id).some((v) => v.subject === subject);
  } catch {
    return false;
  }
}

/** A binary value for a topic that requires a schema: wire format, a schema of `<topic>-value`, and it decodes. */
function checkWireFormat(options: ProduceRouteOptions, topic: string, value: Buffer | null, i: number): void {
  const where = `records[${i}].value`;
  if (value === null) return;
  if (!options.registry) throw new RequestError(422, 42202, requiredMessage(topic));
  let id: number;
  try {
    id = options.registry.serde.deserialize(value).schemaId;
  } catch (error) {
    throw new RequestError(422, 42203, `${where}: ${(error as Error).message}`);
  }
  if (!heldBy(options, id, `${topic}-value`))
    throw new RequestError(422, 42203, `${where}: schema ${id} is not a version of ${topic}-value`);
}

interface RawRecord {
  key?: unknown;
  value?: unknown;
  partition?: number | null;
  /** A Kappa extension of v2, in REST Proxy v3's shape: `[{ name, value }]`, values base64 or null. */
  headers?: unknown;
}

function recordHeaders(headers: unknown, i: number): Record<string, Buffer> {
  const where = `records[${i}].headers`;
  if (!Array.isArray(headers))
    throw new RequestError(422, 422, `${where} must be an array of { name, value }`);
  const out: Record<string, Buffer> = {};
  for (const [j, h] of headers.entries()) {
    const { name, value } = (h ?? {}) as { name?: unknown; value?: unknown };
    if (typeof name !== 'string' || name === '' || (value !== null && typeof value !== 'string'))
      throw new RequestError(
        422,
        422,
        `${where}[${j}] must be { name: string, value: base64 string | null }`,
      );
    if (typeof value === 'string' && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
      throw new RequestError(422, 422, `${where}[${j}].value is not base64`);
    out[name] = value === null ? Buffer.alloc(0) : Buffer.from(value, 'base64');
  }
  return out;
}

function parseRecords(body: unknown, max: number): RawRecord[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError(422, 422, 'The request body must be a JSON object with a "records" array');
  }
  const records = (body as { records?: unknown }).records;
  if (!Array.isArray(records)) throw new RequestError(422, 422, 'The request body needs a "records" array');
  if (records.length === 0) throw new RequestError(422, 422, '"records" is empty: send at least one record');
  if (records.length > max) {
    throw new RequestError(
      413,
      413,
      `${records.length} records in one request is over the limit of ${max}: split the request`,
    );
  }
  records.forEach((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      throw new RequestError(422, 422, `records[${i}] must be an object`);
    const p = (r as RawRecord).partition;
    if (p !== undefined && p !== null && (!Number.isInteger(p) || p < 0)) {
      throw new RequestError(422, 422, `records[${i}].partition must be a non-negative integer`);
    }
  });
  return records as RawRecord[];
}

function parsePartition(text: string): number {
  const p = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(p))
    throw new RequestError(404, 40402, `Partition '${text}' not found`);
  return p;
}

async function autoCreate(options: ProduceRouteOptions, topic: string): Promise<void> {
  if (!options.autoCreateTopics) return; // the bus answers UnknownTopicError → 404/40401
  // An invalid name is the caller's: createTopic's error reaches them.
  await ensureTopic(options.bus, topic, { partitions: options.defaultPartitions });
}
