import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UpdateShardCountCommand } from '@aws-sdk/client-kinesis';
import { describe, it } from 'vitest';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { startUp } from '../cli/cli-helpers.ts';
import { crashLoopHousekeeping } from '../support/crash-loop.ts';
import { kinesisAvailable, startKinesis } from '../support/kinesis.ts';
import { seededRandom } from '../support/random.ts';
import { tempDir } from '../support/temp-dir.ts';
import { active, createStream, expectExactlyOnce, numbersByKey, putNumbered } from './kinesis-helpers.ts';

const { children, cleanups, kill } = crashLoopHousekeeping();

describe.runIf(kinesisAvailable())('Kinesis crash loop', () => {
  it('kappa up killed with kill -9 at random points while the stream is written and resharded: every record once, in key order', async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    console.log(`Kinesis crash loop seed ${seed}`);
    const random = seededRandom(seed);
    const kinesis = await startKinesis();
    cleanups.push(() => kinesis.stop());
    const work = await tempDir();
    cleanups.push(work.remove);
    const data = path.join(work.dir, 'data');
    const config = path.join(work.dir, 'kappa.config.json');
    await writeFile(
      config,
      JSON.stringify({
        kinesis: {
          sources: [
            {
              name: 'clicks',
              ...kinesis.options,
              stream: 'clicks',
              topic: 'clicks',
              partitions: 3,
              pollInterval: '50ms',
            },
          ],
        },
      }),
    );
    await createStream(kinesis.client, 'clicks', 2);
    let written = 0;
    const write = async (count: number) => {
      await putNumbered(kinesis.client, 'clicks', 13, written, count);
      written += count;
    };
    for (let round = 0; round < 12; round++) {
      const up = await startUp(['--port', '0', '--data-dir', data, '--config', config]);
      children.add(up.process);
      await write(100 + Math.floor(random() * 200));
      if (round === 4 || round === 8) {
        await kinesis.client.send(
          new UpdateShardCountCommand({
            StreamName: 'clicks',
            TargetShardCount: round === 4 ? 4 : 3,
            ScalingType: 'UNIFORM_SCALING',
          }),
        );
        await active(kinesis.client, 'clicks');
      }
      await new Promise((r) => setTimeout(r, 20 + random() * 600));
      await kill(up.process);
    }
    const up = await startUp(['--port', '0', '--data-dir', data, '--config', config]);
    children.add(up.process);
    // Read through the running Kappa: its embedded log is its own until it stops.
    await waitForRecords(up.url, 'clicks', written);
    up.process.kill('SIGTERM');
    await new Promise((r) => up.process.once('exit', r));
    const bus = await openEmbeddedBus({ dataDir: data });
    try {
      expectExactlyOnce(await numbersByKey(bus, 'clicks'), written);
    } finally {
      await bus.close();
    }
  }, 600_000);
});

/** Waits until a topic's partitions together hold `count` records, asking Kappa's HTTP API. */
async function waitForRecords(url: string, topic: string, count: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const response = await fetch(`${url}/v1/topics/${topic}`).catch(() => null);
    if (response?.ok) {
      const body = (await response.json()) as { offsets: Array<{ start: number; end: number }> };
      // Transaction markers take offsets on Kafka only: on the embedded log, end − start is the count.
      if (body.offsets.reduce((n, o) => n + o.end - o.start, 0) >= count) return;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${count} records in ${topic}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
