import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TopicPartitionOffset } from '../../core/index.ts';
import type { WireSerde } from '../../registry/index.ts';
import type { ConsumerInstances } from '../consumer-instances.ts';
import { KAFKA_V2_JSON } from '../content-types.ts';
import { RequestError } from '../errors.ts';
import { decodeRecord } from '../record-codec.ts';
import { intParam } from './records.ts';

type InstanceParams = { Params: { group: string; instance: string } };

/** Confluent REST Proxy v2 consumers: create, subscribe, fetch records, commit offsets, delete. */
export function consumersV2Routes(
  app: FastifyInstance,
  instances: ConsumerInstances,
  serde?: WireSerde,
): void {
  app.post<{ Params: { group: string }; Body: Record<string, unknown> | undefined }>(
    '/consumers/:group',
    async (request, reply) => {
      const body = request.body ?? {};
      const format = body.format ?? 'binary';
      if (format !== 'json' && format !== 'binary') {
        throw new RequestError(
          422,
          42204,
          `Unsupported consumer format '${String(format)}': use "json" or "binary"`,
        );
      }
      const reset = body['auto.offset.reset'] ?? 'latest';
      if (reset !== 'earliest' && reset !== 'latest')
        throw new RequestError(422, 422, 'auto.offset.reset must be "earliest" or "latest"');
      if (body.name !== undefined && (typeof body.name !== 'string' || !/^[\w.-]{1,200}$/.test(body.name))) {
        throw new RequestError(422, 422, 'name must be 1-200 letters, digits, ".", "_" or "-"');
      }
      const group = request.params.group;
      const instance = instances.create(group, {
        format,
        reset,
        autoCommit: String(body['auto.commit.enable'] ?? 'false') === 'true',
        owner: request.principal?.name ?? null,
        ...(typeof body.name === 'string' ? { name: body.name } : {}),
      });
      return reply.type(KAFKA_V2_JSON).send({
        instance_id: instance.name,
        base_uri: `${request.protocol}://${request.host}/consumers/${group}/instances/${instance.name}`,
      });
    },
  );

  app.post<InstanceParams & { Body: { topics?: unknown } | undefined }>(
    '/consumers/:group/instances/:instance/subscription',
    async (request, reply) => {
      const topics = request.body?.topics;
      if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string')) {
        throw new RequestError(422, 422, 'The body needs "topics": a non-empty array of topic names');
      }
      await instances.use(request.params.group, request.params.instance, ownerOf(request), (i) =>
        i.consumer.subscribe(topics as string[]),
      );
      return reply.code(204).send();
    },
  );

  app.get<InstanceParams & { Querystring: { timeout?: string; max_bytes?: string; max_records?: string } }>(
    '/consumers/:group/instances/:instance/records',
    async (request, reply) => {
      const timeoutMs = intParam('timeout', request.query.timeout, 1000, 0, 30_000);
      const maxBytes = intParam('max_bytes', request.query.max_bytes, 1024 * 1024, 1, 64 * 1024 * 1024);
      const maxRecords = intParam('max_records', request.query.max_records, 500, 1, 10_000);
      const abort = new AbortController();
      request.raw.once('close', () => abort.abort());
      const { group, instance } = request.params;
      const records = await instances.use(group, instance, ownerOf(request), async (i) => {
        const got = await i.consumer.poll({ timeoutMs, maxBytes, maxRecords, signal: abort.signal });
        if (i.autoCommit && got.length > 0) await i.consumer.commit();
        return got.map((r) => decodeRecord(r, i.format, serde));
      });
      return reply.type(KAFKA_V2_JSON).send(records);
    },
  );

  app.post<InstanceParams & { Body: { offsets?: unknown } | undefined }>(
    '/consumers/:group/instances/:instance/offsets',
    async (request, reply) => {
      const offsets = request.body?.offsets;
      if (offsets !== undefined && !isOffsets(offsets)) {
        throw new RequestError(422, 422, '"offsets" must be an array of {topic, partition, offset}');
      }
      await instances.use(request.params.group, request.params.instance, ownerOf(request), (i) =>
        i.consumer.commit(offsets),
      );
      return reply.code(204).send();
    },
  );

  app.delete<InstanceParams>('/consumers/:group/instances/:instance', async (request, reply) => {
    await instances.remove(request.params.group, request.params.instance, ownerOf(request));
    return reply.code(204).send();
  });
}

const ownerOf = (request: FastifyRequest) => request.principal?.name ?? null;

function isOffsets(value: unknown): value is TopicPartitionOffset[] {
  return (
    Array.isArray(value) &&
    value.every(
      (o) =>
        typeof o?.topic === 'string' &&
        Number.isInteger(o?.partition) &&
        Number.isInteger(o?.offset) &&
        o.offset >= 0,
    )
  );
}
