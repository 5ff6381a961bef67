import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../../src/kafka/index.ts';
import type { Status } from '../../src/ops/index.ts';
import { drain } from '../log/bus-contract.ts';
import { hasKafka, kafkaBroker, SASL_USERS } from '../support/kafka.ts';
import type { KafkaEndpoints } from '../support/kafka-broker.ts';
import { freePort } from '../support/net.ts';
import { sample } from '../support/prometheus-text.ts';
import { uniqueName, useTempDir } from '../support/temp-dir.ts';
import { revenuePipeline, run, startUp } from './cli-helpers.ts';

/** `kappa up` on Kafka: the same HTTP API and CLI, with every topic and record in the broker. */
describe.skipIf(!hasKafka)('kappa up against Kafka', () => {
  const temp = useTempDir('each', 'kappa-up-kafka-');
  let broker: KafkaEndpoints;
  let kafka: KafkaBus;
  const running: ChildProcess[] = [];
  beforeAll(async () => {
    broker = await kafkaBroker();
    kafka = new KafkaBus({ brokers: [broker.bootstrap], clientId: 'kappa-test' });
  }, 150_000);
  afterEach(() => {
    for (const up of running.splice(0)) up.kill('SIGKILL');
  });
  afterAll(async () => kafka?.close());

  async function up(args: string[]): Promise<{ url: string; line: string }> {
    const started = await startUp(['--port', '0', '--data-dir', path.join(temp.dir, 'data'), ...args]);
    running.push(started.process);
    return started;
  }

  it('--bus kafka:// switches topics, produce, consume and readiness to the broker', async () => {
    const { url, line } = await up(['--bus', `kafka://${broker.bootstrap}`]);
    expect(line).toContain(`Kafka at ${broker.bootstrap}`);
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', bus: 'kafka' });

    const topic = uniqueName('orders');
    expect(await run(['--url', url, 'topics', 'create', topic, '--partitions', '3'])).toMatchObject({
      code: 0,
    });
    expect(await kafka.describeTopic(topic)).toMatchObject({ partitions: 3 });

    const response = await fetch(`${url}/topics/${topic}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: [{ key: 'o-1', value: { total: 42 } }] }),
    });
    expect(response.status).toBe(200);
    const reader = kafka.consumer({ reset: 'earliest' });
    await reader.assign([0, 1, 2].map((partition) => ({ topic, partition })));
    const [record] = await drain(reader, 1);
    await reader.close();
    // The JSON embedded format writes keys and values as JSON, as the REST Proxy does.
    expect({
      key: JSON.parse(record!.key!.toString()),
      value: JSON.parse(record!.value!.toString()),
    }).toEqual({ key: 'o-1', value: { total: 42 } });

    const consumed = await run(['--url', url, 'consume', topic, '--from-beginning', '--max', '1']);
    expect(JSON.parse(consumed.stdout)).toMatchObject({ key: 'o-1', value: { total: 42 } });
  });

  it('kappa status shows the topics, groups with lag, pipeline and view on Kafka', async () => {
    const topic = uniqueName('payments');
    const name = uniqueName('revenue');
    const config = await revenuePipeline(temp.dir, {
      view: name.replace(/-/g, '_'),
      topic,
      name,
      configYaml: `bus:\n  kind: kafka\n  brokers: ['${broker.bootstrap}']\n`,
    });
    const { url } = await up(['--config', config]);
    const produced = await fetch(`${url}/topics/${topic}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({
        records: [
          { merchant: 'm1', amount: 10, ts: 100 },
          { merchant: 'm1', amount: -1, ts: 200 },
          { merchant: 'm2', amount: 5, ts: 1500 },
        ].map((value) => ({ value })),
      }),
    });
    expect(produced.status).toBe(200);
    let status: Status | undefined;
    for (let i = 0; i < 150; i++) {
      status = JSON.parse((await run(['--url', url, 'status', '--json'])).stdout) as Status;
      const [pipeline] = status.pipelines;
      const [view] = status.views;
      if (pipeline && pipeline.processed >= 3 && pipeline.lag === 0 && view?.rows === 1 && view.lag === 0)
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { code, stdout } = await run(['--url', url, 'status']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Kappa on Kafka at ${broker.bootstrap}, `));
    const row = (first: string) =>
      stdout
        .split('\n')
        .find((l) => l.startsWith(`${first} `))
        ?.split(/\s{3,}/);
    // The broker's topic, its three records, and the pipeline's two stages' groups caught up, past
    // the transaction markers of the repartition topic.
    expect(row(topic)).toEqual([topic, '1', '3', '-']);
    expect(row(`kappa-pipeline-${name}`)).toEqual([`kappa-pipeline-${name}`, '1', '0', '1']);
    expect(row(`kappa-pipeline-${name}-1`)).toEqual([`kappa-pipeline-${name}-1`, '1', '0', '1']);
    const [, state, source, processed, ...rest] = row(name)!;
    expect([state, source, rest]).toEqual([
      'running',
      topic,
      ['-', '0', '-', 'map → keyBy → window → toView'],
    ]);
    // Both stages' records: the payments, and what the first stage sent the second.
    expect(Number(processed)).toBeGreaterThan(3);
    expect(row(name.replace(/-/g, '_'))).toEqual([name.replace(/-/g, '_'), name, '1', '1', '0']);
    expect(stdout).toMatch(/Dead letters: [1-9]\d* in dead-letters/);
    // The Kafka producer's appends reach the same metrics as the embedded log's.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(sample(metrics, 'kappa_log_appended_records_total', { topic })).toBe(3);
    expect(sample(metrics, 'kappa_log_appended_bytes_total', { topic })).toBeGreaterThan(3 * 30);
    expect(sample(metrics, 'kappa_consumer_lag_records', { group: `kappa-pipeline-${name}`, topic })).toBe(0);
  });

  it('reads the Kafka connection from a YAML config: SASL SCRAM, and TLS with a CA file', async () => {
    const caFile = path.join(temp.dir, 'ca.pem');
    await writeFile(caFile, broker.tlsCa);
    const { username, password } = SASL_USERS['SCRAM-SHA-512'];
    const config = path.join(temp.dir, 'kappa.config.yaml');
    await writeFile(
      config,
      [
        'bus:',
        '  kind: kafka',
        `  brokers: ['${broker.tlsBootstrap}']`,
        '  tls:',
        '    caFile: ca.pem',
        '  sasl:',
        '    mechanism: SCRAM-SHA-512',
        `    username: ${username}`,
        `    password: ${password}`,
        '  compression: zstd',
      ].join('\n'),
    );
    const { url, line } = await up(['--config', config]);
    expect(line).toContain(`Kafka at ${broker.tlsBootstrap}`);
    const topic = uniqueName('secure');
    expect(await run(['--url', url, 'topics', 'create', topic])).toMatchObject({ code: 0 });
    expect(await kafka.listTopics()).toContain(topic);
  });

  it('refuses to start, saying why, when Kafka is unreachable or the bus URL or config is wrong', async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const dataDir = path.join(temp.dir, 'data');
    const down = await run(['up', '--port', '0', '--data-dir', dataDir, '--bus', `kafka://${nobody}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`Cannot reach Kafka at ${nobody}`);

    const badUrl = await run(['up', '--port', '0', '--data-dir', dataDir, '--bus', 'kafka:/nowhere']);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toContain("--bus must be 'embedded' or kafka://");

    const wrongPassword = await run([
      'up',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--bus',
      `kafka://${SASL_USERS.PLAIN.username}:wrong@${broker.saslBootstrap}`,
    ]);
    expect(wrongPassword.code).toBe(1);
    expect(wrongPassword.stderr).toContain('refused the SASL credentials');

    const config = path.join(temp.dir, 'bad.yaml');
    await writeFile(config, 'bus:\n  kind: kafka\n  brokers: [no-port]\n');
    const badConfig = await run(['up', '--config', config]);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/bus\.brokers\.0: a broker is host:port/);
  });
});
