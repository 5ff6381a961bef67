import type { Logger } from '../../core/index.ts';
import type { Bus, Consumer } from '../../log/index.ts';
import type { Table } from '../dsl/steps.ts';
import type { TableLookup } from './pipeline-task.ts';

/**
 * A table's rows in memory, read from its whole topic (every partition, from the start: the topic is
 * compacted, so that is its live keys) and kept up to date as the topic changes, as Kafka Streams
 * keeps a GlobalKTable. The topic is the table's own changelog: nothing else is written for it, and
 * a restart reads it again. A value the table's serde cannot read is skipped with a warning (the
 * table keeps the key's previous row); a null value deletes the key.
 */
export class TableReader implements TableLookup {
  readonly table: Table;
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #rows = new Map<string, unknown>();
  #consumer: Consumer | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(bus: Bus, table: Table, logger: Logger) {
    this.#bus = bus;
    this.table = table;
    this.#logger = logger;
  }

  get size(): number {
    return this.#rows.size;
  }

  get(key: string): unknown {
    return this.#rows.get(key);
  }

  /** Reads the topic up to its end as it is now, then goes on following it in the background. */
  async start(): Promise<void> {
    const { topic } = this.table;
    const ranges = await this.#bus.partitionOffsets(topic);
    const consumer = this.#bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
    this.#consumer = consumer;
    await consumer.assign(ranges.map((r) => ({ topic, partition: r.partition, offset: r.start })));
    const caughtUp = () => ranges.every((r) => (consumer.position(topic, r.partition) ?? r.start) >= r.end);
    while (!caughtUp()) this.#apply(await consumer.poll({ maxRecords: 5000, timeoutMs: 200 }));
    this.#running = this.#follow();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
    await this.#consumer?.close();
  }

  async #follow(): Promise<void> {
    while (!this.#stopped) {
      try {
        this.#apply(await this.#consumer!.poll({ maxRecords: 5000, timeoutMs: 200 }));
      } catch (error) {
        if (this.#stopped) return;
        this.#logger.warn({ err: error, table: this.table.topic }, 'reading a table failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  #apply(records: Awaited<ReturnType<Consumer['poll']>>): void {
    for (const r of records) {
      if (r.key === null) continue;
      const key = r.key.toString('utf8');
      if (r.value === null) {
        this.#rows.delete(key);
        continue;
      }
      try {
        this.#rows.set(key, this.table.serde.decode(r.value));
      } catch (error) {
        this.#logger.warn(
          { err: error, table: this.table.topic, partition: r.partition, offset: r.offset },
          'skipped a table row its serde cannot read',
        );
      }
    }
  }
}
