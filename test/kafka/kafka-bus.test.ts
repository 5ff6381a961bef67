import { describe } from 'vitest';
import { KafkaBus } from '../../src/kafka/index.ts';
import { busContract } from '../log/bus-contract.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';

// The same contract suite as the embedded log, unchanged, against a real broker.
describe.skipIf(!hasKafka)('Kafka bus', () => {
  const open = async () =>
    new KafkaBus({
      brokers: [(await kafkaBroker()).bootstrap],
      clientId: 'kappa-test',
      replicationFactor: 1,
    });
  busContract('Kafka', {
    open,
    async reopen(bus) {
      await bus.close();
      return open();
    },
    async cleanup() {},
  });
});
