import { readFile } from 'node:fs/promises';
import { inject } from 'vitest';
import type { KafkaEndpoints } from './kafka-broker.ts';

export { runKafkaJava, SASL_USERS } from './kafka-broker.ts';

/** Whether this run's Kafka tests run, as the global setup found (a missing broker fails them under KAPPA_REQUIRE_SERVICES=1). */
export const hasKafka: boolean = inject('kafkaExpected');

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
