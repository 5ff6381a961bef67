import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { readAll } from '../log/log-helpers.ts';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { startUp } from './cli-helpers.ts';

const PARTITIONS = 3;
const PER_REQUEST = 100;

describe('REST produce across a kill -9', () => {
  const temp = useTempDir('each');
  let up: ChildProcess | undefined;
  afterEach(() => {
    if (up?.exitCode === null) up.kill('SIGKILL');
  });

  it('appends each request all or nothing, whatever moment the process dies', async () => {
    const seed = Number(process.env.KAPPA_CRASH_SEED ?? Date.now() % 100_000);
    console.log(`produce-crash seed ${seed} (KAPPA_CRASH_SEED=${seed} to replay)`);
    const random = seededRandom(seed);
    const data = path.join(temp.dir, 'data');
    const acknowledged = new Set<number>();
    let next = 0;
    // Three rounds on the same data folder: each kill lands somewhere else, and each restart recovers
    // what the one before left.
    for (let round = 0; round < 3; round++) {
      const started = await startUp(['--port', '0', '--data-dir', data], { cwd: temp.dir });
      up = started.process;
      const { url } = started;
      if (round === 0) {
        const created = await fetch(`${url}/v3/clusters/kappa/topics`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topic_name: 'orders', partitions_count: PARTITIONS }),
        });
        expect(created.status).toBe(201);
      }
      // Requests of 100 keyed records spread over every partition, six at a time, until the kill.
      let dead = false;
      const client = async () => {
        while (!dead) {
          const request = next++;
          const records = Array.from({ length: PER_REQUEST }, (_, i) => ({
            key: `k${(request * 7 + i) % 50}`,
            value: { request, i, pad: 'x'.repeat(200) },
          }));
          try {
            const response = await fetch(`${url}/topics/orders`, {
              method: 'POST',
              headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
              body: JSON.stringify({ records }),
            });
            if (response.status === 200) acknowledged.add(request);
            await response.arrayBuffer();
          } catch {
            return; // the server died under this request
          }
        }
      };
      const clients = Array.from({ length: 6 }, client);
      await new Promise((r) => setTimeout(r, 200 + random() * 1000));
      dead = true;
      const exited = new Promise((r) => up!.once('exit', r));
      up.kill('SIGKILL');
      await Promise.all(clients);
      await exited;

      // Recovery is the same open a restarted `kappa up` does.
      const bus = await openEmbeddedBus({ dataDir: data, maintenanceInterval: 0 });
      const counts = new Map<number, number>();
      for (let p = 0; p < PARTITIONS; p++)
        for (const record of await readAll(bus, 'orders', p)) {
          const { request } = JSON.parse(record.value!.toString()) as { request: number };
          counts.set(request, (counts.get(request) ?? 0) + 1);
        }
      await bus.close();
      const partial = [...counts].filter(([, n]) => n !== PER_REQUEST);
      expect(partial, `round ${round}`).toEqual([]);
      for (const request of acknowledged) expect(counts.get(request), `request ${request}`).toBe(PER_REQUEST);
    }
    expect(acknowledged.size).toBeGreaterThan(0);
  });
});
