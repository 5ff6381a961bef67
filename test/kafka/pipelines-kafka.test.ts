import { describe } from 'vitest';
import { KafkaBus } from '../../src/kafka/index.ts';
import { keyedRunnersContract } from '../stream/runners-contract.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';
import { uniqueName } from '../support/temp-dir.ts';

// Keyed pipelines spread over two runners in one consumer group on a real broker: the same test as on the embedded log.
describe.skipIf(!hasKafka)('keyed pipelines over several runners, Kafka', () => {
  keyedRunnersContract(
    async () =>
      new KafkaBus({
        brokers: [(await kafkaBroker()).bootstrap],
        clientId: 'kappa-test',
        replicationFactor: 1,
      }),
    uniqueName,
  );
});
