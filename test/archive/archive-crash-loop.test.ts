import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ParquetFiles } from '../../src/archive/index.ts';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { FolderStore } from '../../src/storage/index.ts';
import { startUp } from '../cli/cli-helpers.ts';
import { crashLoopHousekeeping } from '../support/crash-loop.ts';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { expectSameRecords, readArchive, readTopic } from './archive-helpers.ts';

const ROUNDS = 20;
const { children, kill } = crashLoopHousekeeping();

describe('archiver across kill -9', () => {
  const temp = useTempDir('each');

  it(`archives a topic under load exactly once across ${ROUNDS} kill -9s of kappa up`, async () => {
    const seed = Number(process.env.KAPPA_CRASH_SEED ?? Date.now() % 100_000);
    console.log(`archive-crash-loop seed ${seed} (KAPPA_CRASH_SEED=${seed} to replay)`);
    const random = seededRandom(seed);
    const data = path.join(temp.dir, 'data');
    const archive = path.join(temp.dir, 'archive');
    // Small files, often: a kill lands between a file's put and its manifest's as often as not.
    await writeFile(
      path.join(temp.dir, 'kappa.config.json'),
      JSON.stringify({
        dataDir: data,
        archive: { topics: ['events'], every: 10, store: { kind: 'folder', dir: archive } },
      }),
    );
    let n = 0;
    for (let round = 0; round <= ROUNDS; round++) {
      const started = await startUp(['--port', '0'], { cwd: temp.dir });
      children.add(started.process);
      if (round === 0) {
        const created = await fetch(`${started.url}/v3/clusters/kappa/topics`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topic_name: 'events', partitions_count: 3 }),
        });
        expect(created.status).toBe(201);
      }
      if (round === ROUNDS) {
        // The last run: produce nothing and let the archiver catch up (its manifests stop moving),
        // then stop it the usual way.
        // (Read as files: opening a FolderStore would clear the live one's temporary files.)
        const progress = () =>
          Promise.all(
            [0, 1, 2].map((p) =>
              readFile(path.join(archive, 'events', '_manifest', `${p}.json`), 'utf8').catch(() => ''),
            ),
          ).then((m) => m.join());
        // Unchanged for 2 s: the archiver's writer thread takes a moment to start.
        let last = '';
        for (let still = 0; still < 4; ) {
          await sleep(500);
          const now = await progress();
          still = now === last && now !== '' ? still + 1 : 0;
          last = now;
        }
        started.process.kill('SIGTERM');
        await new Promise((r) => started.process.once('exit', r));
        break;
      }
      let dead = false;
      const load = (async () => {
        while (!dead) {
          const records = Array.from({ length: 50 }, () => ({
            key: `k${n % 40}`,
            value: { n: n++, pad: 'x'.repeat(Math.floor(random() * 300)) },
          }));
          try {
            const response = await fetch(`${started.url}/topics/events`, {
              method: 'POST',
              headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
              body: JSON.stringify({ records }),
            });
            await response.arrayBuffer();
          } catch {
            return;
          }
        }
      })();
      await sleep(100 + Math.floor(random() * 600));
      await kill(started.process);
      dead = true;
      await load;
    }
    const bus = await openEmbeddedBus({ dataDir: data });
    const store = await FolderStore.open(archive);
    const files = new ParquetFiles();
    try {
      const logged = await readTopic(bus, 'events');
      expect([...logged.values()].reduce((a, r) => a + r.length, 0)).toBeGreaterThan(0);
      expectSameRecords(await readArchive(store, files, 'events'), logged);
    } finally {
      await files.close();
      await store.close();
      await bus.close();
    }
  }, 300_000);
});
