import { Counter, Registry } from 'prom-client';
import { type AppendedEvent, appended } from '../log/index.ts';

/**
 * Prometheus metrics kept from what the layers publish on their diagnostics channels: the layers
 * never import prom-client, and publish nothing while no Metrics is started. Names follow
 * Prometheus's advice (`kappa_<thing>_<unit>`, `_total` for counters). Each Metrics has its own
 * registry, so several (tests, two servers in one process) do not count into one another.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #appendedRecords = new Counter({
    name: 'kappa_log_appended_records_total',
    help: 'Records appended to the embedded log, transaction markers included.',
    labelNames: ['topic'],
    registers: [this.registry],
  });
  readonly #appendedBytes = new Counter({
    name: 'kappa_log_appended_bytes_total',
    help: 'Bytes of record batches appended to the embedded log, as stored.',
    labelNames: ['topic'],
    registers: [this.registry],
  });
  readonly #onAppended = (e: AppendedEvent) => {
    this.#appendedRecords.inc({ topic: e.topic }, e.records);
    this.#appendedBytes.inc({ topic: e.topic }, e.bytes);
  };
  #started = false;

  start(): this {
    if (!this.#started) appended.subscribe(this.#onAppended);
    this.#started = true;
    return this;
  }

  stop(): void {
    if (this.#started) appended.unsubscribe(this.#onAppended);
    this.#started = false;
  }

  /** The metrics in Prometheus's text exposition format, what `GET /metrics` answers. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
