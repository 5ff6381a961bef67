import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { run, startUp } from './cli-helpers.ts';

// What was seen when `kappa up` was tried as an attacker and as a newcomer (issue 10), each against a
// real `kappa up` in an empty working folder.

const SCHEMA = JSON.stringify({ type: 'record', name: 'User', fields: [{ name: 'id', type: 'string' }] });

describe('kappa up keeps its own topics to itself', () => {
  const temp = useTempDir('each');
  let up: ChildProcess | undefined;
  afterEach(() => {
    if (up?.exitCode === null) up.kill('SIGKILL');
  });
  const stop = async () => {
    up!.kill('SIGTERM');
    await new Promise((r) => up!.once('exit', r));
  };
  const start = async (args: string[] = []) => {
    const started = await startUp(['--port', '0', '--data-dir', path.join(temp.dir, 'data'), ...args], {
      cwd: temp.dir,
    });
    up = started.process;
    return started;
  };
  const call = (url: string, method: string, route: string, body?: unknown, type = 'application/json') =>
    fetch(`${url}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': type },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('refuses to delete _schemas or write forged records into it and __consumer_offsets; ids survive restarts', async () => {
    let { url } = await start();
    const registered = await call(url, 'POST', '/subjects/users-value/versions', { schema: SCHEMA });
    expect(await registered.json()).toEqual({ id: 1 });

    const deleted = await call(url, 'DELETE', '/v3/clusters/kappa/topics/_schemas');
    expect(deleted.status).toBe(403);
    const forged = Buffer.from(JSON.stringify({ subject: 'x', version: 1, id: 77, schema: SCHEMA }));
    for (const topic of ['_schemas', '__consumer_offsets']) {
      const produced = await call(
        url,
        'POST',
        `/topics/${topic}`,
        { records: [{ key: forged.toString('base64'), value: forged.toString('base64') }] },
        'application/vnd.kafka.binary.v2+json',
      );
      expect(produced.status).toBe(403);
    }
    expect((await call(url, 'GET', '/readyz')).status).toBe(200);
    expect((await call(url, 'POST', '/subjects/other-value/versions', { schema: SCHEMA })).status).toBe(200);

    await stop();
    ({ url } = await start());
    expect(await (await call(url, 'GET', '/subjects/users-value/versions/1')).json()).toMatchObject({
      id: 1,
    });
    expect((await call(url, 'GET', '/schemas/ids/77')).status).toBe(404);
    const next = await call(url, 'POST', '/subjects/third-value/versions', {
      schema: JSON.stringify({ type: 'record', name: 'Third', fields: [] }),
    });
    expect(await next.json()).toEqual({ id: 2 }); // not reused from 1
  });

  it('starts on a data folder whose offsets topic holds a malformed record, naming where it is', async () => {
    let { url } = await start();
    await call(url, 'POST', '/v3/clusters/kappa/topics', { topic_name: 'orders', partitions_count: 1 });
    await stop();
    // Only a bug or an outside program could write this; the public routes cannot.
    const bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'data'), maintenanceInterval: 0 });
    const producer = bus.producer();
    await producer.send([
      { topic: '__consumer_offsets', key: Buffer.from([0xff, 0x00, 0x01]), value: Buffer.from([0xfe]) },
    ]);
    await producer.close();
    await bus.close();

    const restarted = await start();
    url = restarted.url;
    expect((await call(url, 'GET', '/readyz')).status).toBe(200);
    const warning = restarted.output
      .map((l) => JSON.parse(l.startsWith('{') ? l : '{}'))
      .find((l) => l.msg === 'skipped a malformed record in the offsets topic');
    expect(warning).toMatchObject({ topic: '__consumer_offsets', partition: 0, offset: expect.any(Number) });
  });

  it('refuses 10,000 partitions, twice, and keeps serving every connection', async () => {
    const { url } = await start();
    for (let i = 0; i < 2; i++) {
      const response = await call(url, 'POST', '/v3/clusters/kappa/topics', {
        topic_name: `wide-${i}`,
        partitions_count: 10_000,
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message).toMatch(/topics\.maxPartitions/);
    }
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => fetch(`${url}/healthz`).then((r) => r.status)),
    );
    expect(answers.every((s) => s === 200)).toBe(true);
    const created = await call(url, 'POST', '/v3/clusters/kappa/topics', {
      topic_name: 'fine',
      partitions_count: 1000,
    });
    expect(created.status).toBe(201);
    await stop();
    expect(up!.exitCode).toBe(0);
  });
});

describe('kappa up beyond loopback, with keys', () => {
  const temp = useTempDir('each');
  let up: ChildProcess | undefined;
  afterEach(() => {
    if (up?.exitCode === null) up.kill('SIGKILL');
  });

  it('refuses a non-loopback --host without keys, saying how to make one', async () => {
    const refused = await run(
      ['up', '--host', '0.0.0.0', '--port', '0', '--data-dir', path.join(temp.dir, 'data')],
      undefined,
      {
        cwd: temp.dir,
      },
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Refusing to listen on 0\.0\.0\.0 without API keys/);
    expect(refused.stderr).toMatch(/kappa keys create/);
  });

  it('serves keys made by `kappa keys create` to the CLI, and refuses them once revoked', async () => {
    const made = await run(['keys', 'create', 'ops', '--scope', 'admin'], undefined, { cwd: temp.dir });
    expect(made.code).toBe(0);
    const key = made.stdout.trim();
    expect(key).toMatch(/^kappa_/);
    expect(made.stderr).toMatch(/only time it is shown/);
    const listed = await run(['keys', 'list'], undefined, { cwd: temp.dir });
    expect(listed.stdout).toMatch(/^ops\tadmin\t/);
    expect(listed.stdout).not.toContain(key);

    const started = await startUp(
      ['--host', '0.0.0.0', '--port', '0', '--data-dir', path.join(temp.dir, 'data')],
      {
        cwd: temp.dir,
      },
    );
    up = started.process;
    const url = started.url.replace('0.0.0.0', '127.0.0.1');
    // The log's warning and the "Kappa is up" line reach stdout by different writers: either may come first.
    for (let waited = 0; !/clear text/.test(started.output.join('\n')) && waited < 5000; waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    expect(started.output.join('\n')).toMatch(/clear text/);

    const anonymous = await run(['--url', url, 'topics', 'list']);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/--api-key/);
    expect(await run(['--url', url, '--api-key', key, 'topics', 'create', 'orders'])).toMatchObject({
      code: 0,
    });
    const listedTopics = await run(['--url', url, 'topics', 'list'], undefined, {
      env: { KAPPA_API_KEY: key },
    });
    expect(listedTopics.stdout.split('\n')).toContain('orders');

    expect((await run(['keys', 'revoke', 'ops'], undefined, { cwd: temp.dir })).code).toBe(0);
    // The running Kappa rereads the file; the key stops working without a restart.
    let status = 200;
    while (status !== 401) {
      status = (await fetch(`${url}/v3/clusters`, { headers: { authorization: `Bearer ${key}` } })).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(401);
  });

  it('refuses a pipeline whose source topic is missing, naming it, unless topics.autoCreate', async () => {
    await mkdir(path.join(temp.dir, 'pipelines'));
    await writeFile(
      path.join(temp.dir, 'pipelines', 'clicks.ts'),
      "import { pipeline } from 'kappa';\nexport default pipeline('clicks').source('clicks').map((c) => c).toTopic('clicks-out');\n",
    );
    const refused = await run(['up', '--port', '0'], undefined, { cwd: temp.dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Pipeline 'clicks' reads topic 'clicks', which does not exist/);
    expect(refused.stderr).toMatch(/topics\.autoCreate/);
    await writeFile(
      path.join(temp.dir, 'kappa.config.yaml'),
      'topics:\n  autoCreate: true\n  defaultPartitions: 2\n',
    );
    const started = await startUp(['--port', '0'], { cwd: temp.dir });
    up = started.process;
    const described = await fetch(`${started.url}/v3/clusters/kappa/topics/clicks`);
    expect(((await described.json()) as { partitions_count: number }).partitions_count).toBe(2);
  });

  it('never reads the pipelines folder or config of the folder the tests run from', async () => {
    // A broken pipeline and config here would stop `kappa up`; the test's own folder has neither.
    await mkdir(path.join(temp.dir, 'pipelines'));
    await writeFile(path.join(temp.dir, 'pipelines', 'broken.ts'), 'export default 42;\n');
    await writeFile(path.join(temp.dir, 'kappa.config.yaml'), 'nonsense: true\n');
    const inThere = await run(['up', '--port', '0'], undefined, { cwd: temp.dir });
    expect(inThere.code).toBe(1);
    expect(inThere.stderr).toMatch(/nonsense/);
    const elsewhere = await startUp(['--port', '0']);
    up = elsewhere.process;
    expect(elsewhere.url).toMatch(/^http:/);
  });
});
