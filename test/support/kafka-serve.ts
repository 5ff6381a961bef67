// Development helper: starts the test broker and keeps it running, writing its endpoints to the file
// named on the command line; then `KAPPA_TEST_KAFKA=<file> npx vitest run test/kafka` reuses it.
import { writeFile } from 'node:fs/promises';
import { endpointsOf, startKafkaBroker } from './kafka-broker.ts';

const file = process.argv[2] ?? '.cache/kafka/endpoints.json';
const broker = await startKafkaBroker();
await writeFile(file, JSON.stringify(endpointsOf(broker)));
console.log(`Kafka broker at ${broker.bootstrap}; endpoints in ${file}; Ctrl-C stops it`);
const stop = async () => {
  await broker.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
