import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { crashLoopHousekeeping } from '../support/crash-loop.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { eventProducer, run, startUp } from './cli-helpers.ts';

const SRC = path.join(import.meta.dirname, '..', '..', 'src', 'index.ts');
const { children } = crashLoopHousekeeping();

/** Version `version` of pipeline 'counts' into view 'counts': later versions add a column. */
function countsFile(version: number): string {
  const extra = version === 1 ? '' : `, total: sum((e) => e.v)${version > 2 ? ', top: max((e) => e.v)' : ''}`;
  return `import { count, max, pipeline, sum, tumbling } from ${JSON.stringify(SRC)};
export default pipeline('counts', { version: ${version} })
  .source<{ user: string; ts: number; v: number }>('events', { eventTime: (e) => e.ts, fromArchive: ${version > 1} })
  .keyBy((e) => e.user)
  .window(tumbling(1000), { emit: { updates: 0 } })
  .aggregate({ n: count()${extra} })
  .toView('counts');
`;
}

interface Version {
  version: number;
  state: string;
  rows: number;
  lag: number | null;
}

describe('view versions', () => {
  const temp = useTempDir('each');

  it('builds a new version beside the served one and switches queries atomically under load; rollback, auto-promotion and the drop after the grace period', async () => {
    const dir = path.join(temp.dir, 'pipelines');
    await mkdir(dir);
    const config = (versions: Record<string, unknown>) =>
      writeFile(
        path.join(temp.dir, 'kappa.config.json'),
        JSON.stringify({
          dataDir: path.join(temp.dir, 'data'),
          pipelines: { dir },
          topics: { autoCreate: true, defaultPartitions: 2 },
          archive: { topics: ['events'], every: 200 },
          views: { versions },
        }),
      );
    const produce = eventProducer('events', 9);
    const query = async (url: string, sql: string) => {
      const res = await fetch(`${url}/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sql }),
      });
      return {
        status: res.status,
        body: (await res.json()) as { columns: { name: string }[]; rows: unknown[][] },
      };
    };
    const total = async (url: string) => {
      const { status, body } = await query(url, 'SELECT coalesce(sum(n), 0) FROM counts');
      return status === 200 ? Number(body.rows[0]![0]) : -1;
    };
    const until = async (what: string, done: () => Promise<boolean>) => {
      for (let i = 0; !(await done()); i++) {
        if (i > 600) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
      }
    };
    const versions = async (url: string): Promise<Version[]> =>
      ((await (await fetch(`${url}/v1/views/counts/versions`)).json()) as { versions: Version[] }).versions;
    const states = async (url: string) => (await versions(url)).map((v) => `v${v.version} ${v.state}`);
    const cli = async (url: string, ...args: string[]) => {
      const r = await run(['--url', url, 'views', ...args]);
      return { ...r, ok: r.code === 0 };
    };
    const up = async () => {
      const started = await startUp(['--port', '0'], { cwd: temp.dir });
      children.add(started.process);
      return started;
    };
    const stop = async (p: Awaited<ReturnType<typeof up>>) => {
      p.process.kill('SIGTERM');
      await new Promise((r) => p.process.once('exit', r));
    };

    // Version 1 serves.
    await config({ autoPromote: false, dropAfter: '1h' });
    await writeFile(path.join(dir, 'counts-v1.ts'), countsFile(1));
    let kappa = await up();
    await produce(kappa.url, 3000);
    await until('version 1', async () => (await total(kappa.url)) === 3000);
    expect(await states(kappa.url)).toEqual(['v1 serving']);
    await stop(kappa);

    // Version 2 deployed beside it: built from history while version 1 keeps serving.
    await writeFile(path.join(dir, 'counts-v2.ts'), countsFile(2));
    kappa = await up();
    const url = kappa.url;
    let loading = true;
    const answers = new Map<string, number>();
    const failures: string[] = [];
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, worker) => {
        while (loading) {
          const [sql, lookup] = await Promise.all([
            query(url, 'SELECT coalesce(sum(n), 0) AS n FROM counts'),
            fetch(`${url}/v1/views/counts/keys/u${worker}`),
          ]);
          if (sql.status !== 200) failures.push(`query ${sql.status} ${JSON.stringify(sql.body)}`);
          if (lookup.status !== 200) failures.push(`lookup ${lookup.status} ${await lookup.text()}`);
          else await lookup.arrayBuffer();
          const key = String(sql.body.rows?.[0]?.[0]);
          answers.set(key, (answers.get(key) ?? 0) + 1);
        }
      }),
    );
    await until('version 2 ready', async () => (await states(url)).join() === 'v1 serving,v2 ready');
    // The serving version is not promoted again; an unknown one is refused.
    expect((await cli(url, 'promote', 'counts', '--version', '1')).stderr).toContain(
      'already serves version 1',
    );
    expect((await cli(url, 'promote', 'counts', '--version', '7')).stderr).toContain('has no version 7');
    const promoted = await cli(url, 'promote', 'counts');
    expect(promoted.ok, promoted.stderr).toBe(true);
    expect(promoted.stdout).toMatch(/2 +\| serving/);
    expect((await query(url, 'SELECT * FROM counts LIMIT 1')).body.columns.map((c) => c.name)).toContain(
      'total',
    );
    const rolledBack = await cli(url, 'rollback', 'counts');
    expect(rolledBack.ok, rolledBack.stderr).toBe(true);
    expect(await states(url)).toEqual(['v1 serving', 'v2 held']);
    expect((await query(url, 'SELECT * FROM counts LIMIT 1')).body.columns.map((c) => c.name)).not.toContain(
      'total',
    );
    expect((await cli(url, 'rollback', 'counts')).stderr).toContain('no earlier version');
    expect((await cli(url, 'promote', 'counts', '--version', '2')).ok).toBe(true);
    expect(await states(url)).toEqual(['v1 retired', 'v2 serving']);
    loading = false;
    await load;
    // Every query and lookup succeeded, and every answer was a whole version's.
    expect(failures.slice(0, 5)).toEqual([]);
    expect([...answers.keys()]).toEqual(['3000']);
    expect([...answers.values()].reduce((a, b) => a + b)).toBeGreaterThan(8);
    // Both versions go on with new records.
    await produce(url, 1000);
    await until('version 2 live', async () => (await total(url)) === 4000);
    await stop(kappa);

    // Version 3, with automatic promotion; version 1's file is gone, so past the grace period it
    // is dropped; version 2's pipeline still runs here, so it stays.
    await rm(path.join(dir, 'counts-v1.ts'));
    await writeFile(path.join(dir, 'counts-v3.ts'), countsFile(3));
    await config({ autoPromote: true, dropAfter: '1s' });
    kappa = await up();
    await until(
      'version 3 promoted',
      async () => (await states(kappa.url)).join() === 'v2 retired,v3 serving',
    );
    expect(await total(kappa.url)).toBe(4000);
    expect(
      (await query(kappa.url, 'SELECT * FROM counts LIMIT 1')).body.columns.map((c) => c.name),
    ).toContain('top');
    await stop(kappa);
  }, 240_000);
});
