import { readFile } from 'node:fs/promises';
import { inject } from 'vitest';
import { type KafkaEndpoints, kafkaAvailable, runKafkaJava } from './kafka-broker.ts';

export { kafkaAvailable, runKafkaJava, SASL_USERS } from './kafka-broker.ts';

/** Whether this run has a Kafka broker (checked once per file; under KAPPA_REQUIRE_SERVICES=1 a missing one throws). */
export const hasKafka: boolean = process.env.KAPPA_TEST_KAFKA ? true : kafkaAvailable();

/**
 * The run's shared broker (started by test/support/global-setup.ts), once it answers. Tests on it use
 * fresh topic and group names, so files share it safely.
 */
export async function kafkaBroker(): Promise<KafkaEndpoints> {
  const file = inject('kafkaEndpointsFile');
  const deadline = Date.now() + 140_000;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text) {
      const parsed = JSON.parse(text) as KafkaEndpoints | { error: string };
      if ('error' in parsed) throw new Error(`The test Kafka broker is not available: ${parsed.error}`);
      return parsed;
    }
    if (Date.now() > deadline) throw new Error('The test Kafka broker did not start within 140 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Runs a Kafka tool (e.g. 'org.apache.kafka.tools.TopicCommand') against the shared broker's classpath. */
export const kafkaTool = runKafkaJava;
