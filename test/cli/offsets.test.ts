import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../../src/kafka/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import { drain } from '../log/bus-contract.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';
import { uniqueName, useTempDir } from '../support/temp-dir.ts';
import { run, startUp } from './cli-helpers.ts';

/** Rows of a table `kappa offsets` printed, as arrays of cells (the header and the count left out). */
function rows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(' ') && !l.includes('---'))
    .slice(1)
    .map((l) => l.split('|').map((c) => c.trim()));
}

/** Record i's timestamp: recent, as Kafka's retention deletes records older than a week. */
const BASE = Math.floor(Date.now() / 1000) * 1000 - 100_000;

/** A topic of two partitions, ten records each (timestamps BASE + i·1000), read and committed to the end by `group`. */
async function readToTheEnd(bus: Bus, topic: string, group: string): Promise<void> {
  await bus.createTopic(topic, { partitions: 2 });
  const producer = bus.producer();
  for (let i = 0; i < 10; i++)
    await producer.send(
      [0, 1].map((partition) => ({
        topic,
        partition,
        value: Buffer.from(`v${i}`),
        timestamp: BASE + i * 1000,
      })),
    );
  await producer.close();
  const consumer = bus.consumer({ group, reset: 'earliest' });
  await consumer.subscribe([topic]);
  await drain(consumer, 20);
  await consumer.commit();
  await consumer.close();
}

/** The offsets commands against one bus, which `withBus` lends the test between commands. */
function offsetsSuite(withBus: <T>(fn: (bus: Bus) => Promise<T>) => Promise<T>, args: () => string[]) {
  const offsets = async (...more: string[]) => run(['offsets', ...more, ...args()]);
  const committed = async (group: string) =>
    rows((await offsets('list', '--group', group)).stdout).map((r) => r[3]);

  it('lists a group’s offsets and lag, and resets them by a dry run first, then --execute', async () => {
    const topic = uniqueName('orders');
    const group = uniqueName('g');
    await withBus((bus) => readToTheEnd(bus, topic, group));
    const listed = await offsets('list', '--group', group);
    expect(listed.code, listed.stderr).toBe(0);
    expect(rows(listed.stdout)).toEqual([
      [group, topic, '0', '10', '0', '10', '0', '0'],
      [group, topic, '1', '10', '0', '10', '0', '0'],
    ]);

    const dry = await offsets(
      'reset',
      '--group',
      group,
      '--to-datetime',
      new Date(BASE + 3000).toISOString(),
    );
    expect(dry.code, dry.stderr).toBe(0);
    expect(rows(dry.stdout)).toEqual([
      [topic, '0', '10', '3'],
      [topic, '1', '10', '3'],
    ]);
    expect(dry.stdout).toContain('Dry run: nothing changed');
    expect(await committed(group)).toEqual(['10', '10']);

    for (const [flags, want] of [
      [['--to-earliest'], ['0', '0']],
      [
        ['--shift-by', '4'],
        ['4', '4'],
      ],
      [
        ['--shift-by', '-9'],
        ['0', '0'],
      ],
      [['--to-latest'], ['10', '10']],
      [
        ['--to-offset', '7'],
        ['7', '7'],
      ],
    ] as const) {
      const done = await offsets('reset', '--group', group, ...flags, '--execute');
      expect(done.code, `${flags.join(' ')}: ${done.stderr}`).toBe(0);
      expect(done.stdout).toContain('Reset 2 partitions');
      expect(await committed(group), flags.join(' ')).toEqual(want);
    }
    // A member of the group goes on from where the reset put it.
    const read = await withBus(async (bus) => {
      const member = bus.consumer({ group, reset: 'latest' });
      await member.subscribe([topic]);
      const got = await drain(member, 6);
      await member.close();
      return got.map((r) => `${r.partition}:${r.offset}`).sort();
    });
    expect(read).toEqual(['0:7', '0:8', '0:9', '1:7', '1:8', '1:9']);
  });
}

describe('kappa offsets on the embedded log', () => {
  const temp = useTempDir('all', 'kappa-offsets-');
  const data = () => path.join(temp.dir, 'data');
  // The command opens the data folder itself, so the test holds it only in between.
  offsetsSuite(
    async (fn) => {
      const bus = await openEmbeddedBus({ dataDir: data() });
      try {
        return await fn(bus);
      } finally {
        await bus.close();
      }
    },
    () => ['--data-dir', data()],
  );

  it('refuses bad flags with a clear message', async () => {
    for (const [flags, message] of [
      [['--to-earliest', '--to-latest'], 'exactly one of'],
      [[], 'exactly one of'],
      [['--to-datetime', 'yesterday'], 'ISO 8601'],
      [['--shift-by', 'x'], 'integer'],
      [['--to-offset', '-1'], 'non-negative'],
      [['--to-earliest'], 'has no committed offsets'],
    ] as const) {
      const r = await run(['offsets', 'reset', '--group', uniqueName('g'), ...flags, '--data-dir', data()]);
      expect(r.code, flags.join(' ')).not.toBe(0);
      expect(r.stderr, flags.join(' ')).toContain(message);
    }
  });

  it('is refused while kappa up holds the data folder (its pipelines are the live members)', async () => {
    const up = await startUp(['--port', '0', '--data-dir', data()]);
    try {
      const r = await run([
        'offsets',
        'reset',
        '--group',
        'g',
        '--to-earliest',
        '--execute',
        '--data-dir',
        data(),
      ]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('in use by process');
    } finally {
      up.process.kill('SIGTERM');
      await new Promise((r) => up.process.once('exit', r));
    }
  });
});

describe.skipIf(!hasKafka)('kappa offsets on Kafka', () => {
  let kafka: KafkaBus;
  let bootstrap: string;
  beforeAll(async () => {
    bootstrap = (await kafkaBroker()).bootstrap;
    kafka = new KafkaBus({ brokers: [bootstrap], clientId: 'kappa-offsets-test' });
  }, 150_000);
  afterAll(async () => kafka?.close());
  offsetsSuite(
    (fn) => fn(kafka),
    () => ['--bus', `kafka://${bootstrap}`],
  );

  it('refuses to reset a group while it has a live member, and says so', async () => {
    const topic = uniqueName('orders');
    const group = uniqueName('g');
    await readToTheEnd(kafka, topic, group);
    const member = kafka.consumer({ group, reset: 'earliest' });
    await member.subscribe([topic]);
    await member.poll({ timeoutMs: 500 });
    try {
      const dry = await run([
        'offsets',
        'reset',
        '--group',
        group,
        '--to-earliest',
        '--bus',
        `kafka://${bootstrap}`,
      ]);
      expect(dry.stdout).toContain('1 live member');
      const r = await run([
        'offsets',
        'reset',
        '--group',
        group,
        '--to-earliest',
        '--execute',
        '--bus',
        `kafka://${bootstrap}`,
      ]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('1 live member: they would commit over new offsets');
      expect((await kafka.committedOffsets(group, topic)).map((o) => o.offset)).toEqual([10, 10]);
    } finally {
      await member.close();
    }
  });
});
