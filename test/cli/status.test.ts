import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../src/ops/index.ts';
import { tempDir } from '../support/temp-dir.ts';
import { revenuePipeline, run, startUp } from './cli-helpers.ts';

/** `kappa status` and `kappa top` against kappa up on the embedded log (Kafka: up-kafka.test.ts). */
describe('kappa status and kappa top', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let up: ChildProcess | undefined;
  let url: string;
  let output: string[];

  beforeAll(async () => {
    temp = await tempDir('kappa-status-');
    const config = await revenuePipeline(temp.dir, { view: 'status_revenue' });
    ({
      process: up,
      url,
      output,
    } = await startUp([
      '--port',
      '0',
      '--data-dir',
      path.join(temp.dir, 'data'),
      '--config',
      config,
      '--log-format',
      'json',
      '--log-level',
      'info',
    ]));
    const records = [
      { merchant: 'm1', amount: 10, ts: 100 },
      { merchant: 'm1', amount: -1, ts: 200 },
      { merchant: 'm2', amount: 5, ts: 1500 },
    ].map((value) => ({ value }));
    const produced = await fetch(`${url}/topics/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records }),
    });
    expect(produced.status).toBe(200);
    // Until the pipeline has read all three and the view has its first row.
    for (let i = 0; i < 150; i++) {
      const status = JSON.parse((await run(['--url', url, 'status', '--json'])).stdout) as Status;
      if (
        status.pipelines[0]?.processed === 3 &&
        status.views[0]?.rows === 1 &&
        status.deadLetters.records === 1
      )
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  afterAll(async () => {
    if (up?.exitCode === null) up.kill('SIGKILL');
    await temp.remove();
  });

  it('prints one screen: topics, groups with lag, the pipeline, its view and the dead letters', async () => {
    const { code, stdout } = await run(['--url', url, 'status']);
    expect(code).toBe(0);
    const sections = stdout.trim().split('\n\n');
    expect(sections[0]).toMatch(/^Kappa on embedded log in .*data, \d{4}-\d\d-\d\dT/);
    const rows = (section: string) =>
      sections
        .find((s) => s.startsWith(section))!
        .split('\n')
        .map((l) => l.split(/\s{3,}/));
    expect(rows('TOPIC')[0]).toEqual(['TOPIC', 'PARTITIONS', 'RECORDS', 'RATE']);
    expect(rows('TOPIC')).toContainEqual(['payments', '1', '3', '-']);
    // Kappa's own topics only with --all.
    expect(stdout).not.toContain('__consumer_offsets');
    expect((await run(['--url', url, 'status', '--all'])).stdout).toContain('__consumer_offsets');
    expect(rows('GROUP')).toContainEqual(['kappa-pipeline-revenue', '1', '0', '1']);
    expect(rows('PIPELINE')).toEqual([
      ['PIPELINE', 'STATE', 'SOURCE', 'PROCESSED', 'RATE', 'LAG', 'IDLE', 'STEPS'],
      ['revenue', 'running', 'payments', '3', '-', '0', '-', 'map → keyBy → window → toView'],
    ]);
    expect(rows('VIEW')).toEqual([
      ['VIEW', 'PIPELINE', 'VERSION', 'ROWS', 'LAG'],
      ['status_revenue', 'revenue', '1', '1', '0'],
    ]);
    expect(sections.at(-1)).toBe('Dead letters: 1 in dead-letters (kappa dlq list)');
  });

  it('refreshes with rates in kappa top', async () => {
    const top = run(['--url', url, 'top', '--interval', '500', '--iterations', '3']);
    await fetch(`${url}/topics/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: [{ value: { merchant: 'm3', amount: 1, ts: 2000 } }] }),
    });
    const { code, stdout } = await top;
    expect(code).toBe(0);
    const screens = stdout.trim().split(/\n\n(?=Kappa on )/);
    expect(screens).toHaveLength(3);
    // The first screen has nothing to compare with; the later ones have a rate per topic and pipeline.
    expect(screens[0]).toMatch(/^payments +1 +\d+ +-$/m);
    for (const screen of screens.slice(1)) expect(screen).toMatch(/^payments +1 +\d+ +\d+\/s$/m);
    expect((await run(['--url', url, 'top', '--interval', '5'])).stderr).toMatch(
      /--interval takes a number of ms/,
    );
  });

  it('logs JSON lines at the level asked for, and refuses an unknown format', async () => {
    const lines = output
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.map((l) => l.msg)).toContain('kappa is up');
    expect(lines.every((l) => l.level >= 30)).toBe(true);
    const refused = await run(['up', '--log-format', 'xml', '--port', '0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Log format 'xml' is not one of json, pretty/);
  });

  it('logs for people with --log-format pretty', async () => {
    const other = await tempDir('kappa-status-pretty-');
    try {
      const pretty = await startUp([
        '--port',
        '0',
        '--data-dir',
        path.join(other.dir, 'data'),
        '--log-format',
        'pretty',
        '--log-level',
        'info',
      ]);
      try {
        for (let i = 0; i < 50 && !pretty.output.some((l) => /INFO.*kappa is up/.test(l)); i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(pretty.output.find((l) => l.includes('kappa is up'))).toMatch(
          /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(kappa\): kappa is up$/,
        );
      } finally {
        pretty.process.kill('SIGKILL');
      }
    } finally {
      await other.remove();
    }
  });
});
