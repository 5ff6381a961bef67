import { assemble, loadConfig } from '../config/index.ts';
import { ConfigError, createLogger } from '../core/index.ts';
import { stopOnSignal } from './stop-on-signal.ts';

export interface WorkerOptions {
  dataDir?: string;
  config?: string;
  bus?: string;
  pipelines?: string;
}

/**
 * `kappa worker`: the pipelines only, without the HTTP API, until SIGINT or SIGTERM. Several workers
 * on one Kafka bus form each pipeline's consumer groups and share its partitions; a partition that
 * moves takes its state along through the changelogs.
 */
export async function worker(options: WorkerOptions): Promise<void> {
  const pipelines = options.pipelines
    ?.split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  if (pipelines !== undefined && pipelines.length === 0)
    throw new ConfigError('--pipelines takes pipeline names separated by commas');
  const { config, file } = await loadConfig({
    ...(options.config ? { file: options.config } : {}),
    ...(options.bus ? { bus: options.bus } : {}),
    overrides: { dataDir: options.dataDir },
  });
  const logger = createLogger();
  const assembly = await assemble(config, logger, pipelines ? { pipelines } : {});
  const names = assembly.pipelines.map((p) => p.pipeline.name);
  logger.info(
    { bus: assembly.busDescription, config: file ?? '(defaults)', pipelines: names },
    'kappa worker is up',
  );
  process.stdout.write(
    `Kappa worker is running ${names.length === 0 ? 'no pipelines' : names.join(', ')} (${assembly.busDescription})\n`,
  );
  stopOnSignal(logger, () => assembly.close());
}
