import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { eventProducer, startUp } from '../cli/cli-helpers.ts';
import { crashLoopHousekeeping } from '../support/crash-loop.ts';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';

const SRC = path.join(import.meta.dirname, '..', '..', 'src', 'index.ts');
const { children, kill } = crashLoopHousekeeping();

/** A pipeline file: counts per user and second into `view`, its source read from the archive or not. */
function pipelineFile(name: string, view: string, fromArchive: boolean): string {
  return `import { count, pipeline, sum, tumbling } from ${JSON.stringify(SRC)};
export default pipeline(${JSON.stringify(name)})
  .source<{ user: string; ts: number; v: number }>('events', { eventTime: (e) => e.ts, fromArchive: ${fromArchive} })
  .keyBy((e) => e.user)
  .window(tumbling(1000), { emit: { updates: 0 } })
  .aggregate({ n: count(), total: sum((e) => e.v) })
  .toView(${JSON.stringify(view)});
`;
}

describe('a pipeline source read fromArchive', () => {
  const temp = useTempDir('each');

  it('gives the same view after retention deleted the head of its topic as one that ran from the start, across kill -9s', async () => {
    const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 100_000);
    console.log(`from-archive seed ${seed} (KAPPA_SEED=${seed} to replay)`);
    const random = seededRandom(seed);
    const dir = path.join(temp.dir, 'pipelines');
    const data = path.join(temp.dir, 'data');
    const archive = path.join(temp.dir, 'archive');
    await mkdir(dir);
    await writeFile(path.join(dir, 'full.ts'), pipelineFile('full', 'full_counts', false));
    await writeFile(
      path.join(temp.dir, 'kappa.config.json'),
      JSON.stringify({
        dataDir: data,
        pipelines: { dir },
        topics: { autoCreate: true, defaultPartitions: 2 },
        archive: { topics: ['events'], every: 100, store: { kind: 'folder', dir: archive } },
      }),
    );
    const produce = eventProducer('events', 7);
    const query = async (url: string, sql: string): Promise<unknown[][]> => {
      const res = await fetch(`${url}/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sql }),
      });
      return res.ok ? ((await res.json()) as { rows: unknown[][] }).rows : [];
    };
    const counted = async (url: string, view: string) =>
      Number((await query(url, `SELECT coalesce(sum(n), 0) FROM ${view}`))[0]?.[0] ?? -1);
    const until = async (what: string, done: () => Promise<boolean>) => {
      for (let i = 0; !(await done()); i++) {
        if (i > 600) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
      }
    };
    const archived = async () => {
      let next = 0;
      for (const p of [0, 1])
        next += await readFile(path.join(archive, 'events', '_manifest', `${p}.json`), 'utf8').then(
          (m) => (JSON.parse(m) as { next: number }).next,
          () => 0,
        );
      return next;
    };

    // The first run: 'full' reads every event from the log; the archiver copies them all.
    let up = await startUp(['--port', '0'], { cwd: temp.dir });
    children.add(up.process);
    await produce(up.url, 1000);
    await until('the archive', async () => (await archived()) === 1000);
    await until('the full view', async () => (await counted(up.url, 'full_counts')) === 1000);
    up.process.kill('SIGTERM');
    await new Promise((r) => up.process.once('exit', r));

    // Retention's part, done by hand: the log loses the first 70% of each partition.
    const bus = await openEmbeddedBus({ dataDir: data });
    let deleted = 0;
    try {
      const ranges = await bus.partitionOffsets('events');
      const cut = ranges.map((r) => ({ partition: r.partition, offset: Math.floor(r.end * 0.7) }));
      await bus.deleteRecords('events', cut);
      deleted = cut.reduce((a, c) => a + c.offset, 0);
      expect((await bus.partitionOffsets('events')).map((r) => r.start)).toEqual(cut.map((c) => c.offset));
    } finally {
      await bus.close();
    }

    // Then a new pipeline from the archive, and one from the log only for contrast; kappa up is
    // killed while they read history (a restart resumes from the offset committed in the archive).
    await writeFile(path.join(dir, 'history.ts'), pipelineFile('history', 'history_counts', true));
    await writeFile(path.join(dir, 'tail.ts'), pipelineFile('tail', 'tail_counts', false));
    for (let round = 0; round < 3; round++) {
      up = await startUp(['--port', '0'], { cwd: temp.dir });
      children.add(up.process);
      await produce(up.url, 100);
      await sleep(Math.floor(random() * 400));
      await kill(up.process);
    }
    up = await startUp(['--port', '0'], { cwd: temp.dir });
    children.add(up.process);
    await produce(up.url, 200);
    await until('the full view', async () => (await counted(up.url, 'full_counts')) === 1500);
    await until('the history view', async () => (await counted(up.url, 'history_counts')) === 1500);
    await until('the tail view', async () => (await counted(up.url, 'tail_counts')) === 1500 - deleted);
    const rows = (view: string) =>
      query(up.url, `SELECT key, window_start, n, total FROM ${view} ORDER BY key, window_start`);
    const full = await rows('full_counts');
    expect(full.length).toBeGreaterThan(50);
    expect(await rows('history_counts')).toEqual(full);
    expect(await rows('tail_counts')).not.toEqual(full);
    // The same history over SQL, from the archive's files rather than the log.
    await until('the archive', async () => (await archived()) === 1500);
    const sql = `SELECT count(*), count(DISTINCT "offset" || '/' || "partition"), sum(("value"::JSON->>'v')::BIGINT) FROM archive.events`;
    expect(await query(up.url, sql)).toEqual([[1500, 1500, (1499 * 1500) / 2]]);
    up.process.kill('SIGTERM');
    await new Promise((r) => up.process.once('exit', r));
  }, 180_000);
});
