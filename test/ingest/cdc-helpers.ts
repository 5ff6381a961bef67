import pg from 'pg';
import { createLogger } from '../../src/core/index.ts';
import { PostgresSource, type PostgresSourceOptions } from '../../src/ingest/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import { SchemaRegistry, schemaIdOf, WireSerde } from '../../src/registry/index.ts';

export interface Capture {
  bus: Bus;
  registry: SchemaRegistry;
  source: PostgresSource;
  /** Stops the source, the registry and the bus. */
  close(): Promise<void>;
}

/** A CDC source named `shop` on an embedded bus in `dataDir`, started. */
export async function startCapture(
  dataDir: string,
  url: string,
  tables: string[],
  options: Partial<PostgresSourceOptions> = {},
): Promise<Capture> {
  const bus = await openEmbeddedBus({ dataDir });
  const registry = await SchemaRegistry.open({ bus });
  const source = new PostgresSource({
    name: 'shop',
    url,
    tables,
    slot: 'kappa_shop',
    publication: 'kappa_shop',
    partitions: 2,
    bus,
    registry,
    logger: createLogger(),
    deadLetterTopic: 'dead-letters',
    maxRecordBytes: 1024 * 1024,
    warnRetainedWalBytes: 1024 ** 3,
    ...options,
  });
  try {
    await source.start();
  } catch (error) {
    await registry.close();
    await bus.close();
    throw error;
  }
  return {
    bus,
    registry,
    source,
    close: async () => {
      await source.stop();
      await registry.close();
      await bus.close();
    },
  };
}

export interface ChangeRecord {
  topic: string;
  key: string;
  /** The decoded envelope, or null for a tombstone. */
  value: Record<string, unknown> | null;
  offset: number;
  partition: number;
}

/** Every record of a CDC topic (read_committed), each partition in order, partitions one after another. */
export async function readChanges(
  bus: Bus,
  registry: SchemaRegistry,
  topic: string,
): Promise<ChangeRecord[]> {
  const serde = new WireSerde(registry);
  const ranges = await bus.partitionOffsets(topic);
  const consumer = bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
  const out: ChangeRecord[] = [];
  try {
    await consumer.assign(ranges.map((r) => ({ topic, partition: r.partition, offset: r.start })));
    const done = () => ranges.every((r) => (consumer.position(topic, r.partition) ?? 0) >= r.end);
    while (!done())
      for (const r of await consumer.poll({ timeoutMs: 100, maxRecords: 10_000 })) {
        let value: Record<string, unknown> | null = null;
        if (r.value) {
          await serde.load(schemaIdOf(r.value));
          value = serde.deserialize(r.value).value as Record<string, unknown>;
        }
        out.push({ topic, key: r.key!.toString('utf8'), value, offset: r.offset, partition: r.partition });
      }
  } finally {
    await consumer.close();
  }
  return out;
}

/** The table a CDC topic describes: key → the `after` of its newest record (a tombstone removes it). */
export function tableOf(changes: readonly ChangeRecord[]): Map<string, Record<string, unknown>> {
  const rows = new Map<string, Record<string, unknown>>();
  for (const c of changes) {
    if (c.value === null) rows.delete(c.key);
    else if (c.value.after) rows.set(c.key, c.value.after as Record<string, unknown>);
    else if (c.value.op === 'd') rows.delete(c.key);
  }
  return rows;
}

/** Waits until `check` holds, polling; fails with `what` after `ms`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function sql(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}
