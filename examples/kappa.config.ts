// A config file for `kappa up --config examples/kappa.config.ts`; every key is in docs/config.md.
import { defineConfig } from 'kappa';

export default defineConfig({
  dataDir: './data',
  pipelines: { dir: './pipelines', deadLetterTopic: 'dead-letters' },
  topics: { autoCreate: true, defaultPartitions: 3 },
});
