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
  /** The name of the API key that made it (null without keys): only that key may use it. */
  owner: string | null;
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

  readonly #max: number;

  constructor(bus: Bus, idleMs = 5 * 60_000, max = 1000) {
    this.#bus = bus;
    this.#idleMs = idleMs;
    this.#max = max;
    this.#timer = setInterval(() => void this.#expire(), Math.min(idleMs, 30_000)).unref();
  }

  create(
    group: string,
    options: {
      name?: string;
      format: EmbeddedFormat;
      reset: 'earliest' | 'latest';
      autoCommit: boolean;
      owner: string | null;
    },
  ): ConsumerInstance {
    const name = options.name ?? `kappa-${randomUUID()}`;
    const key = `${group}\u0000${name}`;
    if (this.#instances.has(key))
      throw new RequestError(409, 40902, `Consumer instance '${name}' already exists in group '${group}'`);
    if (this.#instances.size >= this.#max)
      throw new RequestError(
        429,
        42901,
        `${this.#max} consumer instances are open, the most this server keeps: delete unused ones (they also expire when idle)`,
      );
    const consumer = this.#bus.consumer({ group, reset: options.reset });
    const instance: ConsumerInstance = {
      group,
      name,
      format: options.format,
      autoCommit: options.autoCommit,
      consumer,
      owner: options.owner,
      lastUsed: Date.now(),
      busy: Promise.resolve(),
    };
    this.#instances.set(key, instance);
    return instance;
  }

  /** Runs `task` on the instance after any request already running on it. */
  use<T>(
    group: string,
    name: string,
    owner: string | null,
    task: (instance: ConsumerInstance) => Promise<T>,
  ): Promise<T> {
    const instance = this.#get(group, name, owner);
    instance.lastUsed = Date.now();
    const run = instance.busy.then(() => task(instance));
    instance.busy = run.catch(() => {});
    return run.finally(() => {
      instance.lastUsed = Date.now();
    });
  }

  async remove(group: string, name: string, owner: string | null): Promise<void> {
    const instance = this.#get(group, name, owner);
    this.#instances.delete(`${group}\u0000${name}`);
    await instance.busy;
    await instance.consumer.close();
  }

  /** Another key's instance answers as a missing one: its name says nothing to whoever guessed it. */
  #get(group: string, name: string, owner: string | null): ConsumerInstance {
    const instance = this.#instances.get(`${group}\u0000${name}`);
    if (!instance || instance.owner !== owner)
      throw new RequestError(404, 40403, `Consumer instance '${name}' not found in group '${group}'`);
    return instance;
  }

  async #expire(): Promise<void> {
    const now = Date.now();
    for (const instance of [...this.#instances.values()]) {
      if (now - instance.lastUsed > this.#idleMs)
        await this.remove(instance.group, instance.name, instance.owner).catch(() => {});
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const instance of [...this.#instances.values()])
      await this.remove(instance.group, instance.name, instance.owner).catch(() => {});
  }
}
