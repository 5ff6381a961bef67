import { type Logger, silentLogger } from '../core/index.ts';
import { type Bus, openEmbeddedBus } from '../log/index.ts';
import type { KappaConfig } from './schema.ts';

/** The parts a deployment's config names, opened and ready for http/ and cli/. */
export interface Assembly {
  config: KappaConfig;
  bus: Bus;
  close(): Promise<void>;
}

export async function assemble(config: KappaConfig, logger: Logger = silentLogger): Promise<Assembly> {
  const bus = await openEmbeddedBus({
    dataDir: config.dataDir,
    maxRecordBytes: config.log.maxRecordBytes,
    maintenanceInterval: config.log.maintenanceInterval,
    topicDefaults: { fsync: config.log.fsync, segmentBytes: config.log.segmentBytes },
    logger,
  });
  return { config, bus, close: () => bus.close() };
}
