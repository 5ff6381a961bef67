import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../../src/kafka/index.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';
import type { KafkaEndpoints } from '../support/kafka-broker.ts';
import { seededRandom } from '../support/random.ts';
import { uniqueName } from '../support/temp-dir.ts';

const WORKER = path.join(import.meta.dirname, 'fixtures', 'transform-worker.ts');

interface WorkerEvent {
  worker: string;
  event: 'ready' | 'assigned' | 'revoked' | 'committed' | 'fenced';
  partitions?: number[];
}

/** A worker process and the JSON events it printed; `until` waits for an event matching a test. */
class Worker {
  readonly events: WorkerEvent[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #stderr = '';
  readonly #waiters = new Set<() => void>();

  constructor(name: string, args: string[]) {
    this.#child = spawn(process.execPath, [WORKER, ...args, name], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.stderr!.on('data', (d: Buffer) => {
      this.#stderr += d;
    });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      this.events.push(JSON.parse(line) as WorkerEvent);
      for (const wake of this.#waiters) wake();
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', resolve));
  }

  /** The partitions this worker owns by its own account: assigned minus revoked. */
  owned(): Set<number> {
    const owned = new Set<number>();
    for (const e of this.events) {
      if (e.event === 'assigned') for (const p of e.partitions!) owned.add(p);
      if (e.event === 'revoked') for (const p of e.partitions!) owned.delete(p);
    }
    return owned;
  }

  async until(test: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (this.#child.exitCode !== null)
        throw new Error(`worker exited while waiting for ${what}: ${this.#stderr}`);
      if (Date.now() > deadline)
        throw new Error(
          `no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(this.events.slice(-5))}`,
        );
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 200);
        this.#waiters.add(wake);
      });
    }
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

describe.skipIf(!hasKafka)('Kafka: worker processes in one group', () => {
  let broker: KafkaEndpoints;
  let bus: KafkaBus;
  const workers: Worker[] = [];
  beforeAll(async () => {
    broker = await kafkaBroker();
    bus = new KafkaBus({ brokers: [broker.bootstrap], clientId: 'kappa-test', replicationFactor: 1 });
  }, 150_000);
  afterEach(async () => {
    for (const w of workers.splice(0)) {
      w.kill();
      await w.exited;
    }
  });
  afterAll(async () => bus?.close());

  it('survives kill -9 of one of two workers: the other takes all partitions; the output has every input exactly once', async () => {
    const seed = Date.now() % 100_000;
    const random = seededRandom(seed);
    const [input, output, group] = [uniqueName('in'), uniqueName('out'), uniqueName('workers')];
    await bus.createTopic(input, { partitions: 6 });
    await bus.createTopic(output, { partitions: 6 });
    const producer = bus.producer();
    const produce = async (from: number, to: number) => {
      for (let i = from; i < to; i += 500) {
        const ids = Array.from({ length: Math.min(500, to - i) }, (_, j) => i + j);
        await producer.send(
          ids.map((id) => ({
            topic: input,
            key: Buffer.from(`key-${id % 97}`),
            value: Buffer.from(String(id)),
          })),
        );
      }
    };
    await produce(0, 3000);

    const args = [broker.bootstrap, input, output, group];
    const [a, b] = [new Worker('a', args), new Worker('b', args)];
    workers.push(a, b);
    await a.until(() => a.owned().size > 0, 'assignment of a');
    await b.until(
      () => b.owned().size > 0 && a.owned().size + b.owned().size === 6,
      'both workers sharing the partitions',
    );
    expect([...a.owned()].filter((p) => b.owned().has(p))).toEqual([]);

    // Kill b at a random point in its work: after some of its transactions, likely mid-transaction.
    const commits = () => b.events.filter((e) => e.event === 'committed').length;
    const target = 1 + Math.floor(random() * 3);
    await produce(3000, 6000);
    await b.until(() => commits() >= target, `commit ${target} of b`);
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 30)));
    b.kill();
    await b.exited;

    // The survivor owns all six partitions once the broker's session timeout (6 s) expires b.
    await a.until(() => a.owned().size === 6, 'a owning all partitions', 60_000);
    await produce(6000, 8000);

    const reader = bus.consumer({ reset: 'earliest', isolation: 'read_committed' });
    await reader.assign(Array.from({ length: 6 }, (_, partition) => ({ topic: output, partition })));
    const seen = new Map<string, number>();
    let empty = 0;
    while (seen.size < 8000 && empty < 60) {
      const batch = await reader.poll({ timeoutMs: 500, maxRecords: 5000 });
      empty = batch.length === 0 ? empty + 1 : 0;
      for (const r of batch) seen.set(r.value!.toString(), (seen.get(r.value!.toString()) ?? 0) + 1);
    }
    await reader.close();
    const duplicates = [...seen].filter(([, n]) => n > 1).map(([v]) => v);
    const missing = Array.from({ length: 8000 }, (_, id) => `out:${id}`).filter((v) => !seen.has(v));
    expect({ seed, duplicates, missing: missing.slice(0, 20), missingCount: missing.length }).toEqual({
      seed,
      duplicates: [],
      missing: [],
      missingCount: 0,
    });
    // Every input record's offset is committed: the group's offsets reach the end of every partition.
    const ends = (await bus.partitionOffsets(input)).map((r) => r.end);
    const committed = await bus.committedOffsets(group, input);
    expect(committed.map((o) => o.offset)).toEqual(ends);
  }, 180_000);
});
