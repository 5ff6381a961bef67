import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { SchemaRegistry } from '../../src/registry/index.ts';
import { startUp } from '../cli/cli-helpers.ts';
import { crashLoopHousekeeping } from '../support/crash-loop.ts';
import { postgresAvailable, startPostgres } from '../support/postgres.ts';
import { seededRandom } from '../support/random.ts';
import { tempDir } from '../support/temp-dir.ts';
import { readChanges, sql, until } from './cdc-helpers.ts';
import { accountRows, checkAccounts, seedAccounts, startWriter } from './cdc-workload.ts';

const { children, cleanups, kill } = crashLoopHousekeeping();

describe.runIf(postgresAvailable())('CDC crash loop', () => {
  it('kappa up killed with kill -9 at 20 random points, in the snapshot and in the stream, under random writes: the topic is the table, no change lost or repeated', async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    console.log(`CDC crash loop seed ${seed}`);
    const random = seededRandom(seed);
    const pg = await startPostgres();
    cleanups.push(() => pg.stop());
    const work = await tempDir();
    cleanups.push(work.remove);
    const data = path.join(work.dir, 'data');
    const config = path.join(work.dir, 'kappa.config.json');
    await writeFile(
      config,
      JSON.stringify({
        cdc: {
          sources: [{ name: 'shop', kind: 'postgres', url: pg.url, tables: ['accounts'], partitions: 2 }],
          snapshotPageRows: 200,
        },
      }),
    );
    await seedAccounts(pg.url, 60_000);
    const writer = startWriter(pg.url, seed, 60_001);
    const phases: string[] = [];
    try {
      for (let round = 0; round < 20; round++) {
        const up = await startUp(['--port', '0', '--data-dir', data, '--config', config]);
        children.add(up.process);
        // The first kill comes as soon as the snapshot is under way (not before the source has
        // started: then no kill would land in it); the others anywhere.
        const wait = 50 + random() * 1500;
        if (round === 0)
          for (let i = 0; i < 1000 && (await phase(up.url)) === 'starting'; i++)
            await new Promise((r) => setTimeout(r, 10));
        else await new Promise((r) => setTimeout(r, wait));
        phases.push(await phase(up.url));
        await kill(up.process);
      }
      console.log(`killed in: ${phases.join(', ')}`);
      const up = await startUp(['--port', '0', '--data-dir', data, '--config', config]);
      children.add(up.process);
      // Generous: under a loaded machine the last start may still be snapshotting what the kills cut short.
      await until('streaming', async () => (await phase(up.url)) === 'streaming', 300_000);
      await writer.stop();
      // The insert position, not pg_current_wal_lsn(): the test cluster commits asynchronously
      // (synchronous_commit=off), so the write position trails the last commits, and a slot past it
      // may not have the writer's last transactions yet.
      const { rows } = await sql(pg.url, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
      await until(
        'the slot to pass the last write',
        async () =>
          (
            await sql(
              pg.url,
              "SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = 'kappa_shop'",
              [rows[0].lsn],
            )
          ).rows[0]?.ok === true,
        180_000,
      );
      up.process.kill('SIGTERM');
      await new Promise((r) => up.process.once('exit', r));
    } finally {
      await writer.stop();
    }
    expect(phases).toContain('snapshot');
    expect(phases).toContain('streaming');
    const bus = await openEmbeddedBus({ dataDir: data });
    const registry = await SchemaRegistry.open({ bus });
    try {
      checkAccounts(await readChanges(bus, registry, 'shop.public.accounts'), await accountRows(pg.url));
    } finally {
      await registry.close();
      await bus.close();
    }
  }, 600_000);
});

/** The source's phase as `GET /v1/cdc` says it (`starting` while it has not answered). */
async function phase(url: string): Promise<string> {
  try {
    const response = await fetch(`${url}/v1/cdc`);
    const body = (await response.json()) as { sources: Array<{ phase: string }> };
    return body.sources[0]?.phase ?? 'none';
  } catch {
    return 'starting';
  }
}
