import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { tempDir } from '../support/temp-dir.ts';
import { run, startUp } from './cli-helpers.ts';

describe('kappa CLI against `kappa up`', () => {
  let up: ChildProcess;
  let url: string;
  let remove: () => Promise<void>;
  let dataDir: string;

  beforeAll(async () => {
    ({ dir: dataDir, remove } = await tempDir('kappa-cli-'));
    ({ process: up, url } = await startUp(['--port', '0', '--data-dir', dataDir]));
  });
  afterAll(async () => {
    if (up.exitCode === null) up.kill('SIGKILL');
    await remove();
  });

  it('creates, lists and describes topics', async () => {
    const created = await run(['--url', url, 'topics', 'create', 'payments', '--partitions', '3']);
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toContain('Created topic payments with 3 partitions');
    expect((await run(['--url', url, 'topics', 'list'])).stdout.split('\n')).toContain('payments');
    const described = await run(['--url', url, 'topics', 'describe', 'payments']);
    expect(described.stdout).toContain('3 partition(s)');
    const again = await run(['--url', url, 'topics', 'create', 'payments']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("Topic 'payments' already exists");
  });

  it('produces JSON lines from stdin and consumes them back', async () => {
    const lines = Array.from({ length: 1200 }, (_, i) =>
      JSON.stringify({ key: `m${i % 7}`, value: { amount: i } }),
    ).join('\n');
    const produced = await run(['--url', url, 'produce', 'payments'], `${lines}\n`);
    expect(produced).toMatchObject({ code: 0 });
    expect(produced.stderr).toContain('Produced 1200 records to payments');

    const consumed = await run(['--url', url, 'consume', 'payments', '--from-beginning', '--max', '1200']);
    expect(consumed.code).toBe(0);
    const records = consumed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records).toHaveLength(1200);
    expect(records.map((r) => r.value.amount).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 1200 }, (_, i) => i),
    );
    for (const r of records) {
      expect(Object.keys(r).sort()).toEqual(['key', 'offset', 'partition', 'timestamp', 'value']);
      expect(r.key).toBe(`m${r.value.amount % 7}`);
    }
  });

  it('marks values that are not JSON as base64, so they cannot pass for JSON strings', async () => {
    await run(['--url', url, 'topics', 'create', 'mixed']);
    const binary = Buffer.from([0x00, 0xff, 0x10]).toString('base64');
    const response = await fetch(`${url}/topics/mixed`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.binary.v2+json' },
      body: JSON.stringify({ records: [{ key: Buffer.from('k').toString('base64'), value: binary }] }),
    });
    expect(response.status).toBe(200);
    await run(['--url', url, 'produce', 'mixed'], `${JSON.stringify({ value: binary })}\n`);
    const consumed = await run(['--url', url, 'consume', 'mixed', '--from-beginning', '--max', '2']);
    const [bytes, text] = consumed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(bytes).toMatchObject({
      value: binary,
      value_encoding: 'base64',
      key: Buffer.from('k').toString('base64'),
      key_encoding: 'base64',
    });
    // The same characters produced as a JSON string are a JSON string, unmarked.
    expect(text.value).toBe(binary);
    expect(text).not.toHaveProperty('value_encoding');
  });

  it('resumes a group where it left off', async () => {
    const first = await run([
      '--url',
      url,
      'consume',
      'payments',
      '--group',
      'audit',
      '--from-beginning',
      '--max',
      '700',
    ]);
    const second = await run(['--url', url, 'consume', 'payments', '--group', 'audit', '--max', '500']);
    const amounts = [first, second].flatMap((r) =>
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).value.amount),
    );
    expect(new Set(amounts).size).toBe(1200);
  });

  it('registers, shows, lists and checks schemas', async () => {
    const v1 = path.join(dataDir, 'user.avsc');
    const v2 = path.join(dataDir, 'user-v2.avsc');
    const bad = path.join(dataDir, 'user-bad.avsc');
    const record = (fields: unknown[]) => JSON.stringify({ type: 'record', name: 'User', fields });
    await writeFile(v1, record([{ name: 'id', type: 'string' }]));
    await writeFile(
      v2,
      record([
        { name: 'id', type: 'string' },
        { name: 'age', type: 'int', default: 0 },
      ]),
    );
    await writeFile(
      bad,
      record([
        { name: 'id', type: 'string' },
        { name: 'email', type: 'string' },
      ]),
    );
    const registered = await run(['--url', url, 'schemas', 'register', 'users-value', v1]);
    expect(registered).toMatchObject({ code: 0 });
    expect(registered.stdout).toMatch(/Registered .* under users-value: schema id \d+/);
    expect((await run(['--url', url, 'schemas', 'list'])).stdout.split('\n')).toContain('users-value');
    expect(JSON.parse((await run(['--url', url, 'schemas', 'show', 'users-value'])).stdout)).toMatchObject({
      subject: 'users-value',
      version: 1,
    });
    expect(await run(['--url', url, 'schemas', 'check', 'users-value', v2])).toMatchObject({ code: 0 });
    const incompatible = await run(['--url', url, 'schemas', 'check', 'users-value', bad]);
    expect(incompatible.code).toBe(1);
    expect(incompatible.stdout).toContain(
      "The field 'email' at path '/fields/1' in the new schema has no default value",
    );
    const rejected = await run(['--url', url, 'schemas', 'register', 'users-value', bad]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('incompatible with an earlier schema');
    const types = await run(['--url', url, 'schemas', 'codegen', 'users-value']);
    expect(types.code).toBe(0);
    expect(types.stdout).toContain('from version 1');
    expect(types.stdout).toContain('export interface User {\n  id: string;\n}');
    expect(types.stdout).toContain('export type UsersValue = User;');
  });

  it('reports bad input and unknown topics with one clear line and exit code 1', async () => {
    const bad = await run(['--url', url, 'produce', 'payments'], '{"value":1}\nnot json\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/line 2 is not JSON/);
    const missing = await run(['--url', url, 'produce', 'nope'], '{"value":1}\n');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Topic 'nope' does not exist");
    const port = await freePort();
    const down = await run(['--url', `http://127.0.0.1:${port}`, 'topics', 'list']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`No Kappa is running at http://127.0.0.1:${port}`);
  });

  it('stops cleanly on SIGTERM and keeps its data for the next start', async () => {
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    up.kill('SIGTERM');
    expect(await exited).toBe(0);
    const { openEmbeddedBus } = await import('../../src/log/index.ts');
    const bus = await openEmbeddedBus({ dataDir, maintenanceInterval: 0 });
    const ranges = await bus.partitionOffsets('payments');
    expect(ranges.reduce((n, r) => n + r.end, 0)).toBe(1200); // the rejected produces appended nothing
    await bus.close();
  });
});
