import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  allowsTopic,
  ForbiddenError,
  isPipelineTopic,
  LimitExceededError,
  type Logger,
  reservedTopicName,
} from '../../core/index.ts';
import type { Bus, TopicDescription, TopicSpec } from '../../log/index.ts';

import { RequestError, replyError } from '../errors.ts';

/**
 * Topic admin as in Confluent REST Proxy v3: clusters, topics, partitions. Kappa is one cluster,
 * whatever bus it runs on.
 */
export function topicsV3Routes(
  app: FastifyInstance,
  options: {
    bus: Bus;
    clusterId: string;
    owned: (topic: string) => boolean;
    logger: Logger;
    maxPartitions: number;
  },
): void {
  const { bus, clusterId, owned, logger, maxPartitions } = options;
  const base = (request: FastifyRequest) => `${request.protocol}://${request.host}/v3/clusters/${clusterId}`;
  const cluster = (request: FastifyRequest) => ({
    kind: 'KafkaCluster',
    metadata: { self: base(request), resource_name: `crn:///kafka=${clusterId}` },
    cluster_id: clusterId,
    topics: { related: `${base(request)}/topics` },
  });
  const topic = (request: FastifyRequest, d: TopicDescription) => ({
    kind: 'KafkaTopic',
    metadata: {
      self: `${base(request)}/topics/${d.name}`,
      resource_name: `crn:///kafka=${clusterId}/topic=${d.name}`,
    },
    cluster_id: clusterId,
    topic_name: d.name,
    is_internal: d.internal,
    replication_factor: d.replicationFactor,
    partitions_count: d.partitions,
    partitions: { related: `${base(request)}/topics/${d.name}/partitions` },
    configs: { related: `${base(request)}/topics/${d.name}/configs` },
  });
  const checkCluster = (request: FastifyRequest<{ Params: { cluster: string } }>) => {
    if (request.params.cluster !== clusterId)
      throw new RequestError(404, 404, `Cluster '${request.params.cluster}' not found`);
  };
  const v3 =
    <P>(
      handler: (
        request: FastifyRequest<{ Params: P; Body: unknown }>,
        reply: FastifyReply,
      ) => Promise<unknown>,
    ) =>
    async (request: FastifyRequest<{ Params: P; Body: unknown }>, reply: FastifyReply) => {
      try {
        return await handler(request, reply);
      } catch (error) {
        return replyError(reply, request, error, logger, 'v3');
      }
    };

  app.get('/v3/clusters', async (request) => ({
    kind: 'KafkaClusterList',
    metadata: { self: `${request.protocol}://${request.host}/v3/clusters`, next: null },
    data: [cluster(request)],
  }));
  app.get<{ Params: { cluster: string } }>(
    '/v3/clusters/:cluster',
    v3(async (request) => {
      checkCluster(request);
      return cluster(request);
    }),
  );
  app.get<{ Params: { cluster: string } }>(
    '/v3/clusters/:cluster/topics',
    v3(async (request) => {
      checkCluster(request);
      // A key sees the topics it may produce to or consume from; without keys, every topic.
      const scopes = request.principal?.scopes;
      const names = (await bus.listTopics({ includeInternal: true })).filter(
        (n) =>
          scopes === undefined ||
          allowsTopic(scopes, 'produce', n, owned(n)) ||
          allowsTopic(scopes, 'consume', n, owned(n)),
      );
      const data = await Promise.all(names.map(async (n) => topic(request, await bus.describeTopic(n))));
      return { kind: 'KafkaTopicList', metadata: { self: `${base(request)}/topics`, next: null }, data };
    }),
  );
  app.post<{ Params: { cluster: string } }>(
    '/v3/clusters/:cluster/topics',
    v3(async (request, reply) => {
      checkCluster(request);
      const { name, spec } = parseCreate(request.body);
      const reserved = reservedTopicName(name) ?? (owned(name) ? "it is one of Kappa's own topics" : null);
      if (reserved) throw new RequestError(400, 40002, `Topic name '${name}' cannot be used: ${reserved}`);
      if (spec.partitions > maxPartitions)
        throw new LimitExceededError(
          `partitions_count ${spec.partitions} is over this server's limit of ${maxPartitions} per topic (topics.maxPartitions)`,
        );
      await bus.createTopic(name, spec);
      return reply.code(201).send(topic(request, await bus.describeTopic(name)));
    }),
  );
  app.get<{ Params: { cluster: string; topic: string } }>(
    '/v3/clusters/:cluster/topics/:topic',
    v3(async (request) => {
      checkCluster(request);
      return topic(request, await bus.describeTopic(request.params.topic));
    }),
  );
  app.delete<{ Params: { cluster: string; topic: string } }>(
    '/v3/clusters/:cluster/topics/:topic',
    v3(async (request, reply) => {
      checkCluster(request);
      const name = request.params.topic;
      if (owned(name)) {
        // A pipeline's own topics may go with it, when an admin says so; the bus's and the registry's never.
        const forced = (request.query as { force?: string }).force === 'true' && isPipelineTopic(name);
        if (!forced)
          throw new ForbiddenError(
            isPipelineTopic(name)
              ? `Topic '${name}' belongs to a pipeline: delete it with ?force=true (admin), after stopping the pipeline`
              : `Topic '${name}' is internal to Kappa and cannot be deleted`,
          );
      }
      await bus.deleteTopic(name);
      return reply.code(204).send();
    }),
  );
  app.get<{ Params: { cluster: string; topic: string } }>(
    '/v3/clusters/:cluster/topics/:topic/partitions',
    v3(async (request) => {
      checkCluster(request);
      const t = request.params.topic;
      const ranges = await bus.partitionOffsets(t);
      return {
        kind: 'KafkaPartitionList',
        metadata: { self: `${base(request)}/topics/${t}/partitions`, next: null },
        data: ranges.map((r) => ({
          kind: 'KafkaPartition',
          metadata: { self: `${base(request)}/topics/${t}/partitions/${r.partition}` },
          cluster_id: clusterId,
          topic_name: t,
          partition_id: r.partition,
        })),
      };
    }),
  );
}

type ConfigSetter = (spec: TopicSpec, value: string) => void;

/** Kafka topic config names Kappa understands, and what they set. A Map: `__proto__` or `constructor` is an unknown config, not Object's. */
const CONFIGS = new Map<string, ConfigSetter>([
  [
    'cleanup.policy',
    (spec, v) => {
      const policies = v.split(',').map((p) => p.trim());
      if (policies.some((p) => p !== 'compact' && p !== 'delete'))
        throw new RequestError(400, 40002, `Invalid cleanup.policy '${v}'`);
      spec.compacted = policies.includes('compact');
    },
  ],
  [
    'retention.ms',
    (spec, v) => {
      if (v !== '-1') spec.retention = integer('retention.ms', v);
    },
  ],
  [
    'retention.bytes',
    (spec, v) => {
      if (v !== '-1') spec.retentionBytes = integer('retention.bytes', v);
    },
  ],
  [
    'segment.bytes',
    (spec, v) => {
      spec.segmentBytes = integer('segment.bytes', v);
    },
  ],
  [
    'delete.retention.ms',
    (spec, v) => {
      spec.tombstoneRetention = integer('delete.retention.ms', v);
    },
  ],
  [
    'kappa.fsync',
    (spec, v) => {
      spec.fsync = /^\d+$/.test(v) ? Number(v) : v;
    },
  ],
]);

function integer(name: string, v: string): number {
  if (!/^\d+$/.test(v))
    throw new RequestError(400, 40002, `${name} must be a non-negative integer, got '${v}'`);
  return Number(v);
}

function parseCreate(body: unknown): { name: string; spec: TopicSpec } {
  if (typeof body !== 'object' || body === null)
    throw new RequestError(400, 400, 'Expected a JSON object with topic_name');
  const b = body as {
    topic_name?: unknown;
    partitions_count?: unknown;
    configs?: unknown;
    replication_factor?: unknown;
  };
  if (typeof b.topic_name !== 'string') throw new RequestError(400, 400, 'topic_name is required');
  const partitions = b.partitions_count ?? 1;
  if (!Number.isInteger(partitions))
    throw new RequestError(400, 40002, 'partitions_count must be an integer');
  if (b.replication_factor !== undefined && b.replication_factor !== 1 && b.replication_factor !== -1) {
    throw new RequestError(
      400,
      40002,
      'This cluster keeps one replica per partition: replication_factor must be 1',
    );
  }
  const spec: TopicSpec = { partitions: partitions as number };
  if (b.configs !== undefined) {
    if (!Array.isArray(b.configs))
      throw new RequestError(400, 40002, 'configs must be an array of {name, value}');
    for (const c of b.configs as Array<{ name?: unknown; value?: unknown }>) {
      const apply = typeof c?.name === 'string' ? CONFIGS.get(c.name) : undefined;
      if (!apply)
        throw new RequestError(
          400,
          40002,
          `Unknown or unsupported topic config ${JSON.stringify(String(c?.name)).slice(0, 100)}; supported: ${[...CONFIGS.keys()].join(', ')}`,
        );
      if (typeof c.value !== 'string' && typeof c.value !== 'number')
        throw new RequestError(400, 40002, `Topic config '${c.name}' needs a string value`);
      apply(spec, String(c.value));
    }
  }
  return { name: b.topic_name, spec };
}
