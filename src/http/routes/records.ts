import type { FastifyInstance } from 'fastify';
import type { ConsumedRecord } from '../../core/index.ts';
import type { Bus } from '../../log/index.ts';
import type { WireSerde } from '../../registry/index.ts';
import { RequestError } from '../errors.ts';
import { decodeRecord } from '../record-codec.ts';

const MAX_LIMIT = 1000;
const MAX_WAIT_MS = 30_000;

/**
 * Stateless reads for the dashboard and scripts: a topic's description with its offsets, and
 * records from one partition (or every partition) from an offset.
 */
export function recordsRoutes(app: FastifyInstance, bus: Bus, serde?: WireSerde): void {
  app.get<{ Params: { topic: string } }>('/v1/topics/:topic', async (request) => {
    const topic = request.params.topic;
    const description = await bus.describeTopic(topic);
    return { ...description, offsets: await bus.partitionOffsets(topic) };
  });

  app.get<{
    Params: { topic: string };
    Querystring: {
      partition?: string;
      offset?: string;
      limit?: string;
      timeout_ms?: string;
      format?: string;
    };
  }>('/v1/topics/:topic/records', async (request) => {
    const { topic } = request.params;
    const q = request.query;
    const limit = intParam('limit', q.limit, 100, 1, MAX_LIMIT);
    const timeoutMs = intParam('timeout_ms', q.timeout_ms, 0, 0, MAX_WAIT_MS);
    const format = q.format === 'binary' ? 'binary' : 'json';
    const ranges = await bus.partitionOffsets(topic);
    const chosen =
      q.partition === undefined
        ? ranges
        : ranges.filter((r) => r.partition === intParam('partition', q.partition, 0, 0, 1e9));
    if (chosen.length === 0)
      throw new RequestError(404, 40402, `Partition ${q.partition} of topic '${topic}' not found`);
    const from =
      q.offset === undefined ? undefined : intParam('offset', q.offset, 0, 0, Number.MAX_SAFE_INTEGER);
    const consumer = bus.consumer({ reset: 'earliest' });
    const abort = new AbortController();
    request.raw.once('close', () => abort.abort());
    try {
      await consumer.assign(chosen.map((r) => ({ topic, partition: r.partition, offset: from ?? r.start })));
      const records: ConsumedRecord[] = await consumer.poll({
        maxRecords: limit,
        timeoutMs,
        signal: abort.signal,
      });
      return { records: records.map((r) => decodeRecord(r, format, serde)) };
    } finally {
      await consumer.close();
    }
  });
}

export function intParam(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new RequestError(400, 400, `${name} must be an integer from ${min} to ${max}`);
  return n;
}
