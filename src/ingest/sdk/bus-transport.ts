import type { Bus, Producer } from '../../log/index.ts';
import type { Delivered, EncodedRecord, Transport } from './record-batch.ts';

/** Produce in process, straight onto the bus: what pipelines and embedded apps use. */
export class BusTransport implements Transport {
  readonly #producer: Producer;

  constructor(bus: Bus) {
    this.#producer = bus.producer();
  }

  async send(topic: string, records: readonly EncodedRecord[]): Promise<Delivered[]> {
    const sent = await this.#producer.send(records.map((r) => ({ topic, ...r })));
    return sent.map((m) => ({ topic, partition: m.partition, offset: m.offset }));
  }

  close(): Promise<void> {
    return this.#producer.close();
  }
}
