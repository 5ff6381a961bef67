import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUp } from '../cli/cli-helpers.ts';
import { avroRecord, call } from '../registry/registry-helpers.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';
import type { KafkaEndpoints } from '../support/kafka-broker.ts';
import { uniqueName, useTempDir } from '../support/temp-dir.ts';

const schema = (name: string) => avroRecord(name, [{ name: 'id', type: 'string' }]);

/**
 * The registry on Kafka, as it runs in the distributed shape: several `kappa up` processes share one
 * `_schemas` topic, and no process ever hands out an id another one gave to a different schema.
 */
describe.skipIf(!hasKafka)('schema registry processes sharing a _schemas topic on Kafka', () => {
  const temp = useTempDir('each', 'kappa-registry-kafka-');
  let broker: KafkaEndpoints;
  const running: ChildProcess[] = [];
  beforeAll(async () => {
    broker = await kafkaBroker();
  }, 150_000);
  afterEach(() => {
    for (const p of running.splice(0)) p.kill('SIGKILL');
  });

  async function registryProcess(topic: string, name: string) {
    const config = path.join(temp.dir, `${name}.yaml`);
    await writeFile(
      config,
      `bus:\n  kind: kafka\n  brokers: ["${broker.bootstrap}"]\nregistry:\n  topic: ${topic}\n`,
    );
    const started = await startUp([
      '--config',
      config,
      '--port',
      '0',
      '--data-dir',
      path.join(temp.dir, name),
    ]);
    running.push(started.process);
    return started;
  }

  const register = async (url: string, subject: string, text: string) => {
    const r = await call(url, 'POST', `/subjects/${subject}/versions`, { schema: text });
    if (r.status !== 200) throw new Error(`register ${subject}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id as number;
  };

  /** Every id either process answers for names one schema, the same in both. */
  async function expectOneSchemaPerId(urls: string[], ids: Iterable<number>) {
    for (const id of new Set(ids)) {
      const answers = await Promise.all(urls.map((u) => call(u, 'GET', `/schemas/ids/${id}`)));
      expect(answers.map((a) => a.status)).toEqual(urls.map(() => 200));
      expect(new Set(answers.map((a) => a.body.schema)).size).toBe(1);
    }
  }

  it('hands out distinct ids under concurrent registration from two processes', async () => {
    const topic = uniqueName('_schemas');
    const [a, b] = await Promise.all([registryProcess(topic, 'a'), registryProcess(topic, 'b')]);
    expect((await call(a.url, 'PUT', '/config', { compatibility: 'NONE' })).status).toBe(200);
    const shared = Array.from({ length: 10 }, (_, i) => schema(`Shared${i}`));
    const work = (url: string, tag: string) =>
      Promise.all([
        ...Array.from({ length: 25 }, (_, i) => register(url, `${tag}-value`, schema(`${tag}${i}`))),
        ...shared.map((s) => register(url, `${tag}-shared`, s)),
      ]);
    const [idsA, idsB] = await Promise.all([work(a.url, 'a'), work(b.url, 'b')]);
    expect(idsA.slice(25)).toEqual(idsB.slice(25));
    expect(new Set([...idsA, ...idsB]).size).toBe(60);
    await expectOneSchemaPerId([a.url, b.url], [...idsA, ...idsB]);
    for (const url of [a.url, b.url])
      expect((await call(url, 'GET', '/subjects/a-value/versions')).body).toHaveLength(25);
  }, 120_000);

  it('loses and duplicates nothing when a registry process is killed mid-registration', async () => {
    const topic = uniqueName('_schemas');
    const a = await registryProcess(topic, 'a');
    const b = await registryProcess(topic, 'b');
    await call(b.url, 'PUT', '/config', { compatibility: 'NONE' });
    const acknowledged = new Map<string, number>();
    let stop = false;
    const writer = (url: string, tag: string) =>
      (async () => {
        for (let i = 0; !stop; i++) {
          const text = schema(`${tag}${i}`);
          try {
            acknowledged.set(text, await register(url, `${tag}-value`, text));
          } catch {
            return; // the process died under it
          }
        }
      })();
    const writers = [writer(a.url, 'crash'), writer(b.url, 'steady')];
    await new Promise((r) => setTimeout(r, 500 + Math.random() * 1500));
    a.process.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(writers);
    expect(acknowledged.size).toBeGreaterThan(0);

    const restarted = await registryProcess(topic, 'a2');
    for (const url of [restarted.url, b.url])
      for (const [text, id] of acknowledged) {
        const r = await call(url, 'GET', `/schemas/ids/${id}`);
        expect(JSON.parse(r.body.schema)).toEqual(JSON.parse(text));
      }
    await expectOneSchemaPerId([restarted.url, b.url], acknowledged.values());
    // Registration goes on after the crash, with new ids only.
    const fresh = await register(restarted.url, 'after-value', schema('AfterCrash'));
    expect([...acknowledged.values()]).not.toContain(fresh);
    expect(
      (await call(b.url, 'POST', '/subjects/after-value', { schema: schema('AfterCrash') })).body.id,
    ).toBe(fresh);
  }, 120_000);
});
