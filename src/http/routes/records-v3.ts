import type { FastifyInstance, FastifyReply } from 'fastify';
import { ForbiddenError, type Logger, type ProducerRecord, type RecordMetadata } from '../../core/index.ts';
import type { Bus, Producer } from '../../log/index.ts';
import { LATEST, RecordInvalidError, type SchemaRegistry, type WireSerde } from '../../registry/index.ts';
import { RequestError, replyError, toRestError } from '../errors.ts';
import { parseJsonValues } from '../json-body.ts';

export interface RecordsV3Options {
  bus: Bus;
  producer: Producer;
  clusterId: string;
  owned: (topic: string) => boolean;
  registry?: { registry: SchemaRegistry; serde: WireSerde };
  maxRecordsPerRequest: number;
  maxJsonDepth: number;
  logger: Logger;
}

/** One record of a v3 produce request (Confluent's ProduceRequest). */
interface ProduceRequest {
  partition_id?: number | null;
  headers?: Array<{ name?: unknown; value?: unknown }>;
  key?: ProduceData | null;
  value?: ProduceData | null;
  timestamp?: string | null;
}

interface ProduceData {
  type?: string;
  data?: unknown;
  schema_id?: number;
  schema_version?: number;
  subject?: string;
  schema?: unknown;
}

interface Encoded {
  bytes: Buffer | null;
  /** What the answer says of it: `{ type, size }`, with the schema's id and version when it had one. */
  described: Record<string, unknown> | null;
}

/**
 * REST Proxy v3 produce: `POST /v3/clusters/{cluster}/topics/{topic}/records`. One JSON object is
 * one record and one answer; several objects one after another in the body (Confluent's streaming
 * mode) are one record each, answered by one JSON object per line, in order. Records are taken or
 * refused one by one: a bad record is answered with its error and the others are still appended.
 */
export function recordsV3Routes(app: FastifyInstance, options: RecordsV3Options): void {
  // The body may hold several JSON documents: this route parses its own (in its own plugin scope).
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
      try {
        done(null, parseJsonValues(body as Buffer, options.maxJsonDepth));
      } catch (error) {
        done(error as Error);
      }
    });
    scope.post<{ Params: { cluster: string; topic: string }; Body: unknown[] }>(
      '/v3/clusters/:cluster/topics/:topic/records',
      async (request, reply) => {
        try {
          return await produce(request.params, request.body, reply);
        } catch (error) {
          return replyError(reply, request, error, options.logger, 'v3');
        }
      },
    );
  });

  const produce = async (
    params: { cluster: string; topic: string },
    bodies: unknown[],
    reply: FastifyReply,
  ) => {
    const { cluster, topic } = params;
    if (cluster !== options.clusterId) throw new RequestError(404, 404, `Cluster '${cluster}' not found`);
    if (options.owned(topic))
      throw new ForbiddenError(`Topic '${topic}' is internal to Kappa: only Kappa writes it`);
    const description = await options.bus.describeTopic(topic);
    if (bodies.length > options.maxRecordsPerRequest)
      throw new RequestError(
        413,
        413,
        `${bodies.length} records in one request is over the limit of ${options.maxRecordsPerRequest}`,
      );
    const prepared = bodies.map((body) => {
      try {
        return prepare(topic, description.partitions, body, options);
      } catch (error) {
        return { error };
      }
    });
    const answers = await append(prepared, options);
    const results = answers.map((a, i) =>
      'error' in a ? errorAnswer(a.error) : okAnswer(options.clusterId, topic, a, prepared[i] as Prepared),
    );
    if (bodies.length === 1) {
      const only = results[0]!;
      return reply.code(only.error_code === 200 ? 200 : (only.error_code as number)).send(only);
    }
    return reply.type('application/json').send(`${results.map((r) => JSON.stringify(r)).join('\n')}\n`);
  };
}

interface Prepared {
  record: ProducerRecord;
  key: Encoded;
  value: Encoded;
}

function prepare(topic: string, partitions: number, body: unknown, options: RecordsV3Options): Prepared {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RequestError(
      400,
      400,
      'A record must be a JSON object { key, value, headers, partition_id, timestamp }',
    );
  const r = body as ProduceRequest;
  // The time is set here, not by the log, so that the answer can say it.
  const record: ProducerRecord = { topic, value: null, timestamp: Date.now() };
  if (r.partition_id !== undefined && r.partition_id !== null) {
    if (!Number.isInteger(r.partition_id) || r.partition_id < 0 || r.partition_id >= partitions)
      throw new RequestError(
        404,
        40402,
        `Partition ${JSON.stringify(r.partition_id)} of topic '${topic}' not found`,
      );
    record.partition = r.partition_id;
  }
  if (r.timestamp !== undefined && r.timestamp !== null) {
    const at = Date.parse(r.timestamp);
    if (Number.isNaN(at))
      throw new RequestError(400, 400, `timestamp ${JSON.stringify(r.timestamp)} is not an ISO 8601 time`);
    record.timestamp = at;
  }
  if (r.headers !== undefined) {
    if (!Array.isArray(r.headers))
      throw new RequestError(400, 400, 'headers must be an array of { name, value }');
    record.headers = {};
    for (const h of r.headers) {
      if (
        typeof h?.name !== 'string' ||
        (h.value !== null && h.value !== undefined && typeof h.value !== 'string')
      )
        throw new RequestError(400, 400, 'Each header is { name: string, value: base64 string | null }');
      record.headers[h.name] = typeof h.value === 'string' ? Buffer.from(h.value, 'base64') : Buffer.alloc(0);
    }
  }
  const key = encode(topic, 'key', r.key, options);
  const value = encode(topic, 'value', r.value, options);
  record.key = key.bytes;
  record.value = value.bytes;
  return { record, key, value };
}

/** A key or value as bytes: JSON, BINARY (base64), STRING, or data in a registered schema. */
function encode(
  topic: string,
  part: 'key' | 'value',
  data: ProduceData | null | undefined,
  options: RecordsV3Options,
): Encoded {
  if (data === undefined || data === null) return { bytes: null, described: null };
  if (typeof data !== 'object' || Array.isArray(data))
    throw new RequestError(400, 400, `${part} must be an object { type, data } or { schema_id, data }`);
  const type = data.type?.toUpperCase();
  const bytes = (b: Buffer, t: string) => ({ bytes: b, described: { type: t, size: b.length } });
  if (type === 'JSON') return bytes(Buffer.from(JSON.stringify(data.data ?? null)), 'JSON');
  if (type === 'STRING') {
    if (typeof data.data !== 'string')
      throw new RequestError(400, 400, `${part}.data must be a string for type STRING`);
    return bytes(Buffer.from(data.data), 'STRING');
  }
  if (type === 'BINARY') {
    if (typeof data.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data.data))
      throw new RequestError(400, 400, `${part}.data must be base64 for type BINARY`);
    return bytes(Buffer.from(data.data, 'base64'), 'BINARY');
  }
  if (data.schema !== undefined)
    throw new RequestError(
      400,
      400,
      `${part}.schema: register the schema first and name it by schema_id or schema_version`,
    );
  const subject = data.subject ?? `${topic}-${part}`;
  const registry = options.registry;
  const named = data.schema_id !== undefined || data.schema_version !== undefined;
  if (!registry || (!named && type === undefined && !registry.registry.subjects().includes(subject))) {
    if (type !== undefined && type !== 'AVRO' && type !== 'JSONSCHEMA' && type !== 'PROTOBUF')
      throw new RequestError(
        400,
        400,
        `${part}.type ${JSON.stringify(data.type)}: use JSON, BINARY, STRING, AVRO, JSONSCHEMA or PROTOBUF`,
      );
    if (type !== undefined)
      throw new RequestError(400, 400, `${part}: no schema registered under ${subject}`);
    // No type and no schema for the subject: JSON, as Confluent's REST Proxy writes it.
    return bytes(Buffer.from(JSON.stringify(data.data ?? null)), 'JSON');
  }
  const version =
    data.schema_id !== undefined ? null : registry.registry.version(subject, data.schema_version ?? LATEST);
  const id = data.schema_id ?? version!.id;
  const schema = registry.serde.schema(id);
  let framed: Buffer;
  try {
    framed = registry.serde.serialize(id, schema.codec().fromJson(data.data));
  } catch (error) {
    if (!(error instanceof RecordInvalidError)) throw error;
    throw new RequestError(422, 42203, `${part}: ${error.message}`);
  }
  return {
    bytes: framed,
    described: {
      type: schema.type === 'JSON' ? 'JSONSCHEMA' : schema.type,
      size: framed.length,
      schema_id: id,
      ...(version ? { schema_version: version.version, subject } : {}),
    },
  };
}

/** Appends the prepared records in one call, or one by one when the call is refused (to say which). */
async function append(
  prepared: Array<Prepared | { error: unknown }>,
  options: RecordsV3Options,
): Promise<Array<RecordMetadata | { error: unknown }>> {
  const ok = prepared.filter((p): p is Prepared => !('error' in p));
  let sent: Array<RecordMetadata | { error: unknown }>;
  try {
    sent = await options.producer.send(ok.map((p) => p.record));
  } catch {
    sent = [];
    for (const p of ok)
      sent.push(
        await options.producer.send([p.record]).then(
          (m) => m[0]!,
          (error: unknown) => ({ error }),
        ),
      );
  }
  let next = 0;
  return prepared.map((p) => ('error' in p ? p : sent[next++]!));
}

function okAnswer(
  clusterId: string,
  topic: string,
  sent: RecordMetadata,
  prepared: Prepared,
): Record<string, unknown> {
  return {
    error_code: 200,
    cluster_id: clusterId,
    topic_name: topic,
    partition_id: sent.partition,
    offset: sent.offset,
    timestamp: new Date(prepared.record.timestamp!).toISOString(),
    key: prepared.key.described,
    value: prepared.value.described,
  };
}

function errorAnswer(error: unknown): Record<string, unknown> {
  const { status, body } = toRestError(error, 'v3');
  return { error_code: status, message: (body as { message: string }).message };
}
