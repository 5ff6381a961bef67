import { randomUUID } from 'node:crypto';
import type { Bus, Consumer } from '../log/index.ts';
import type { EmbeddedFormat } from './content-types.ts';
import { RequestError } from './errors.ts';

export interface ConsumerInstance {
  group: string;
  name: string;
  format: EmbeddedFormat;
  autoCommit: boolean;
  consumer: Consumer;
  lastUsed: number;
  /** One request at a time per instance, as the REST Proxy requires. */
  busy: Promise<unknown>;
}

/**
 * REST Proxy v2 consumer instances: server-side group members that HTTP clients drive. Instances
 * idle longer than `idleMs` are closed, so a client that vanished does not hold partitions forever.
 */
export class ConsumerInstances {
  readonly #bus: Bus;
  readonly #idleMs: number;
  readonly #instances = new Map<string, ConsumerInstance>();
  readonly #timer: NodeJS.Timeout;

  constructor(bus: Bus, idleMs = 5 * 60_000) {
    this.#bus = bus;
    this.#idleMs = idleMs;
    this.#timer = setInterval(() => void this.#expire(), Math.min(idleMs, 30_000)).unref();
  }

  create(
    group: string,
    options: { name?: string; format: EmbeddedFormat; reset: 'earliest' | 'latest'; autoCommit: boolean },
  ): ConsumerInstance {
    const name = options.name ?? `kappa-${randomUUID()}`;
    const key = `${group}\u0000${name}`;
    if (this.#instances.has(key))
      throw new RequestError(409, 40902, `Consumer instance '${name}' already exists in group '${group}'`);
    const consumer = this.#bus.consumer({ group, reset: options.reset });
    const instance: ConsumerInstance = {
      group,
      name,
      format: options.format,
      autoCommit: options.autoCommit,
      consumer,
      lastUsed: Date.now(),
      busy: Promise.resolve(),
    };
    this.#instances.set(key, instance);
    return instance;
  }

  /** Runs `task` on the instance after any request already running on it. */
  use<T>(group: string, name: string, task: (instance: ConsumerInstance) => Promise<T>): Promise<T> {
    const instance = this.#instances.get(`${group}\u0000${name}`);
    if (!instance)
      throw new RequestError(404, 40403, `Consumer instance '${name}' not found in group '${group}'`);
    instance.lastUsed = Date.now();
    const run = instance.busy.then(() => task(instance));
    instance.busy = run.catch(() => {});
    return run.finally(() => {
      instance.lastUsed = Date.now();
    });
  }

  async remove(group: string, name: string): Promise<void> {
    const key = `${group}\u0000${name}`;
    const instance = this.#instances.get(key);
    if (!instance)
      throw new RequestError(404, 40403, `Consumer instance '${name}' not found in group '${group}'`);
    this.#instances.delete(key);
    await instance.busy;
    await instance.consumer.close();
  }

  async #expire(): Promise<void> {
    const now = Date.now();
    for (const instance of [...this.#instances.values()]) {
      if (now - instance.lastUsed > this.#idleMs)
        await this.remove(instance.group, instance.name).catch(() => {});
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const instance of [...this.#instances.values()])
      await this.remove(instance.group, instance.name).catch(() => {});
  }
}
