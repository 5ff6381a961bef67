import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp-dir.ts';
import { run, startUp } from './cli-helpers.ts';

const SRC = path.join(import.meta.dirname, '..', '..', 'src', 'index.ts');

/** `kappa up` runs the pipeline files of its pipelines folder; `kappa dlq` inspects and replays dead letters. */
describe('pipelines in kappa up, and kappa dlq', () => {
  let up: ChildProcess;
  let url: string;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    const temp = await tempDir('kappa-pipelines-');
    remove = temp.remove;
    const dir = path.join(temp.dir, 'pipelines');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'revenue.ts'),
      `import { count, pipeline, sum, tumbling } from ${JSON.stringify(SRC)};

interface Payment { merchant: string; amount: number; ts: number }

export default pipeline('revenue')
  .source<Payment>('payments', { eventTime: (p) => p.ts })
  .map((p) => {
    if (p.amount < 0) throw new RangeError('negative amount');
    return p;
  })
  .keyBy((p) => p.merchant)
  .window(tumbling(1000))
  .aggregate({ n: count(), total: sum((p) => p.amount) })
  .map((w) => ({ merchant: w.key, start: w.window.start, ...w.value }))
  .toTopic('revenue');
`,
    );
    const config = path.join(temp.dir, 'kappa.config.yaml');
    await writeFile(config, `pipelines:\n  dir: ${JSON.stringify(dir)}\ntopics:\n  autoCreate: true\n`);
    ({ process: up, url } = await startUp([
      '--port',
      '0',
      '--data-dir',
      path.join(temp.dir, 'data'),
      '--config',
      config,
    ]));
  });
  afterAll(async () => {
    if (up?.exitCode === null) up.kill('SIGKILL');
    await remove?.();
  });

  const produce = (body: unknown, type = 'application/vnd.kafka.json.v2+json') =>
    fetch(`${url}/topics/payments`, {
      method: 'POST',
      headers: { 'content-type': type },
      body: JSON.stringify(body),
    });

  it('runs the pipeline and sends what it cannot process to the dead letters', async () => {
    expect(
      (
        await produce({
          records: [
            { value: { merchant: 'm1', amount: 10, ts: 100 } },
            { value: { merchant: 'm1', amount: -1, ts: 200 } },
            { value: { merchant: 'm1', amount: 5, ts: 300 } },
            { value: { merchant: 'm1', amount: 1, ts: 1500 } },
          ],
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await produce(
          { records: [{ value: Buffer.from('not json').toString('base64') }] },
          'application/vnd.kafka.binary.v2+json',
        )
      ).status,
    ).toBe(200);
    const consumed = await run(['--url', url, 'consume', 'revenue', '--from-beginning', '--max', '1']);
    expect(JSON.parse(consumed.stdout.trim()).value).toEqual({ merchant: 'm1', start: 0, n: 2, total: 15 });

    let listed = '';
    for (let i = 0; i < 50 && listed.split('\n').filter(Boolean).length < 2; i++) {
      listed = (await run(['--url', url, 'dlq', 'list'])).stdout;
      if (listed.split('\n').filter(Boolean).length < 2) await new Promise((r) => setTimeout(r, 200));
    }
    const lines = listed.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^0\terror\trevenue\/map-1\tRangeError: negative amount\tpayments\/0@1$/);
    expect(lines[1]).toMatch(/^1\tdecode\trevenue\/source\tSyntaxError: .*\tpayments\/0@4$/);
    const shown = JSON.parse((await run(['--url', url, 'dlq', 'show', '0'])).stdout);
    expect(shown).toMatchObject({
      reason: 'error',
      pipeline: 'revenue',
      value: JSON.stringify({ merchant: 'm1', amount: -1, ts: 200 }),
    });
  });

  it('replays dead letters into their source topic', async () => {
    const offsets = async () =>
      ((await (await fetch(`${url}/v1/topics/payments`)).json()) as { offsets: Array<{ end: number }> })
        .offsets;
    const before = await offsets();
    const replayed = await run(['--url', url, 'dlq', 'replay', '--reason', 'decode']);
    expect(replayed).toMatchObject({ code: 0 });
    expect(replayed.stderr).toContain('Replayed 1 dead letter');
    const after = await offsets();
    expect(after[0]!.end).toBe(before[0]!.end + 1);
  });

  it('replays in bounded batches with the original headers, and refuses window results', async () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    expect(
      (
        await produce({
          records: [
            {
              value: { merchant: 'm9', amount: -5, ts: 400 },
              headers: [{ name: 'trace', value: b64('t-1') }],
            },
          ],
        })
      ).status,
    ).toBe(200);
    // A letter carrying a window's result, as a downstream failure writes it.
    const letter = await fetch(`${url}/topics/dead-letters`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.binary.v2+json' },
      body: JSON.stringify({
        records: [
          {
            value: b64('{"key":"m1","window":{"start":0,"end":1000}}'),
            headers: [
              ['reason', 'error'],
              ['pipeline', 'revenue'],
              ['step', 'toTopic-1'],
              ['source.topic', 'payments'],
              ['source.partition', '-1'],
              ['source.offset', '-1'],
              ['kind', 'result'],
            ].map(([name, value]) => ({ name: `kappa.dlq.${name}`, value: b64(value!) })),
          },
        ],
      }),
    });
    expect(letter.status).toBe(200);
    let listed: string[] = [];
    for (let i = 0; i < 50 && !listed.some((l) => l.includes('payments/0@5')); i++) {
      listed = (await run(['--url', url, 'dlq', 'list'])).stdout.trim().split('\n');
      await new Promise((r) => setTimeout(r, 200));
    }
    const end = async () =>
      ((await (await fetch(`${url}/v1/topics/payments`)).json()) as { offsets: Array<{ end: number }> })
        .offsets[0]!.end;
    const before = await end();
    const replayed = await run(['--url', url, 'dlq', 'replay', '--reason', 'error']);
    expect(replayed.code).toBe(0);
    expect(replayed.stderr).toMatch(/Refused 1 dead letter .*window results, not records of a source topic/);
    // The two record letters of reason error (the first test's and this one's) go back; the result does not.
    expect(replayed.stderr).toContain('Replayed 2 dead letters');
    expect(await end()).toBe(before + 2);
    const read = (await (
      await fetch(`${url}/v1/topics/payments/records?partition=0&offset=${before}&limit=10&format=binary`)
    ).json()) as { records: Array<{ headers?: Record<string, string> }> };
    expect(read.records.map((r) => r.headers ?? {})).toEqual([{}, { trace: b64('t-1') }]);
  });
});
