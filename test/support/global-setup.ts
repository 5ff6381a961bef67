import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { endpointsOf, type KafkaBroker, kafkaAvailable, startKafkaBroker } from './kafka-broker.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A JSON file that will hold the shared broker's endpoints, or `{"error": …}` if it failed to start. */
    kafkaEndpointsFile: string;
    /**
     * Whether Kafka tests run: the broker's binaries are here, or KAPPA_REQUIRE_SERVICES=1 demands
     * them (then their tests fail with the reason from the endpoints file instead of being skipped).
     */
    kafkaExpected: boolean;
  }
}

/**
 * One Kafka broker for the whole run, started in the background so tests that do not need it are not
 * held up; Kafka tests wait for its endpoints file (test/support/kafka.ts). KAPPA_TEST_KAFKA names the
 * endpoints file of a broker that is already running (`node test/support/kafka-serve.ts` writes one),
 * so a developer can rerun Kafka tests without a new broker each time.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.KAPPA_TEST_KAFKA) {
    project.provide('kafkaEndpointsFile', path.resolve(process.env.KAPPA_TEST_KAFKA));
    project.provide('kafkaExpected', true);
    return async () => {};
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-kafka-endpoints-'));
  const file = path.join(dir, 'endpoints.json');
  project.provide('kafkaEndpointsFile', file);
  let starting: Promise<KafkaBroker | null> = Promise.resolve(null);
  let available = false;
  try {
    available = kafkaAvailable();
    project.provide('kafkaExpected', available);
  } catch (error) {
    project.provide('kafkaExpected', true);
    await writeFile(file, JSON.stringify({ error: (error as Error).message }));
  }
  if (available) {
    starting = startKafkaBroker().then(
      async (broker) => {
        await writeFile(file, JSON.stringify(endpointsOf(broker)));
        return broker;
      },
      async (error: Error) => {
        await writeFile(file, JSON.stringify({ error: error.message }));
        return null;
      },
    );
  }
  return async () => {
    await (await starting)?.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
