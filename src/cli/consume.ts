import { randomUUID } from 'node:crypto';
import type { KappaClient } from './client.ts';

export interface ConsumeOptions {
  group?: string;
  fromBeginning?: boolean;
  max?: string;
}

interface Fetched {
  key: unknown;
  value: unknown;
  /** "base64" when the bytes are not JSON (binary, or a schema's wire format): `key`/`value` is then base64. */
  key_encoding?: 'base64';
  value_encoding?: 'base64';
  /** The registry's schema id, when the bytes were a schema's wire format (decoded into key/value). */
  key_schema_id?: number;
  value_schema_id?: number;
  partition: number;
  offset: number;
  timestamp: number;
}

/**
 * `kappa consume TOPIC`: records as JSON lines on stdout (a schema's wire format decoded, with its
 * `value_schema_id`; other bytes that are not JSON as base64, marked `value_encoding: "base64"`, as
 * the REST Proxy marks them), through a REST Proxy consumer instance. With
 * `--group` it is a member of that group and commits what it printed; without, it reads on its own
 * and leaves no trace. Stops after `--max` records or on Ctrl-C.
 */
export async function consume(client: KappaClient, topic: string, options: ConsumeOptions): Promise<void> {
  const max = options.max === undefined ? Number.POSITIVE_INFINITY : Number(options.max);
  if (!(max > 0) || (Number.isFinite(max) && !Number.isInteger(max)))
    throw new Error(`--max must be a positive integer, got '${options.max}'`);
  const group = options.group ?? `kappa-console-${randomUUID()}`;
  const created = await client.request<{ instance_id: string }>(
    'POST',
    `/consumers/${encodeURIComponent(group)}`,
    {
      format: 'json',
      'auto.offset.reset': options.fromBeginning ? 'earliest' : 'latest',
      'auto.commit.enable': options.group ? 'true' : 'false',
    },
    'application/vnd.kafka.v2+json',
  );
  const instance = `/consumers/${encodeURIComponent(group)}/instances/${created.instance_id}`;
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await client.request(
      'POST',
      `${instance}/subscription`,
      { topics: [topic] },
      'application/vnd.kafka.v2+json',
    );
    let printed = 0;
    while (!stopped && printed < max) {
      const wanted = Math.min(500, max - printed);
      const records = await client.request<Fetched[]>(
        'GET',
        `${instance}/records?timeout=1000&max_records=${wanted}`,
      );
      for (const r of records.slice(0, wanted)) {
        const line = {
          key: r.key,
          ...(r.key_encoding ? { key_encoding: r.key_encoding } : {}),
          ...(r.key_schema_id ? { key_schema_id: r.key_schema_id } : {}),
          value: r.value,
          ...(r.value_encoding ? { value_encoding: r.value_encoding } : {}),
          ...(r.value_schema_id ? { value_schema_id: r.value_schema_id } : {}),
          partition: r.partition,
          offset: r.offset,
          timestamp: r.timestamp,
        };
        process.stdout.write(`${JSON.stringify(line)}\n`);
        printed++;
      }
    }
  } finally {
    await client.request('DELETE', instance).catch(() => {});
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
