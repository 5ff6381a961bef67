import { type ChildProcess, execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { tempDir } from '../support/temp-dir.ts';
import { run, startUp } from './cli-helpers.ts';

const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups) await c();
});

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

it('kappa up --demo serves three views whose numbers change as payments flow, and the CLI queries them', async () => {
  const temp = await tempDir('kappa-demo-');
  cleanups.push(temp.remove);
  const pgPort = await freePort();
  const up = await startUp([
    '--demo',
    '--port',
    '0',
    '--pg-port',
    String(pgPort),
    '--data-dir',
    path.join(temp.dir, 'data'),
  ]);
  children.push(up.process);
  const json = async (route: string, init?: RequestInit) => (await fetch(`${up.url}${route}`, init)).json();
  const views = await until(
    () => json('/v1/views') as Promise<{ views: Array<{ name: string; rows: number }> }>,
    (v) => v.views.length === 3 && v.views.every((x) => x.rows > 0),
    'three views with rows',
  );
  expect(views.views.map((v) => v.name)).toEqual([
    'declined_per_card',
    'revenue_per_merchant',
    'user_journeys',
  ]);
  const revenue = async () =>
    (
      (await json('/v1/query', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sql: 'SELECT sum(payments) FROM revenue_per_merchant' }),
      })) as { rows: number[][] }
    ).rows[0]![0]!;
  const first = await revenue();
  await until(revenue, (n) => n > first, 'the revenue view to count more payments');
  // The help it printed says how to query, and the CLI does.
  expect(up.output.join('\n')).toContain('/v1/views/revenue_per_merchant/top');
  const table = await run([
    '--url',
    up.url,
    'query',
    'SELECT count(*) AS merchants FROM revenue_per_merchant',
  ]);
  expect(table.stdout).toMatch(/merchants\n-+\n +\d+\n\(1 row\)/);
  const list = await run(['--url', up.url, 'views', 'list']);
  expect(list.stdout).toContain('user_journeys');
  const merchant = (
    (await json('/v1/views/revenue_per_merchant/top?by=revenue&n=1')) as { rows: Array<{ key: string }> }
  ).rows[0]!.key;
  const lookup = await run(['--url', up.url, 'lookup', 'revenue_per_merchant', merchant]);
  expect(JSON.parse(lookup.stdout)).toMatchObject({
    key: merchant,
    values: { payments: expect.any(Number) },
  });
  const lines = await run(['--url', up.url, 'query', '--json', 'SELECT key FROM user_journeys LIMIT 2']);
  expect(
    lines.stdout
      .trim()
      .split('\n')
      .map((l) => Object.keys(JSON.parse(l))),
  ).toEqual([['key'], ['key']]);
  // The psql line it printed works as printed.
  const psqlLine = up.output.find((l) => l.startsWith('Views answer SQL over the Postgres protocol: '));
  expect(psqlLine).toContain(`127.0.0.1:${pgPort}`);
  const psql = await promisify(execFile)('psql', [
    `postgresql://kappa@127.0.0.1:${pgPort}/kappa`,
    '-X',
    '-A',
    '-t',
    '-c',
    'SELECT count(*) FROM declined_per_card',
  ]);
  expect(Number(psql.stdout.trim())).toBeGreaterThan(0);
}, 120_000);
