import { assemble, loadConfig } from '../config/index.ts';
import { ConfigError, createLogger, toMillis } from '../core/index.ts';
import { createServer, type KappaServer } from '../http/index.ts';
import { readinessOf } from './readiness.ts';
import { observe, portFlag, prepareServing, statusOf, watchKeys } from './serving.ts';
import { stopOnSignal } from './stop-on-signal.ts';

export interface WorkerOptions {
  dataDir?: string;
  config?: string;
  bus?: string;
  pipelines?: string;
  /** Serve /metrics, /v1/status, /healthz and /readyz on this port (0: a free one); default none. */
  metricsPort?: string;
  host?: string;
}

/**
 * `kappa worker`: the pipelines only, without the HTTP API, until SIGINT or SIGTERM. Several workers
 * on one Kafka bus form each pipeline's consumer groups and share its partitions; a partition that
 * moves takes its state along through the changelogs. With `--metrics-port`, each serves its own
 * metrics and status for Prometheus to scrape (counters are per process).
 */
export async function worker(options: WorkerOptions): Promise<void> {
  const pipelines = options.pipelines
    ?.split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  if (pipelines !== undefined && pipelines.length === 0)
    throw new ConfigError('--pipelines takes pipeline names separated by commas');
  const metricsPort = portFlag('--metrics-port', options.metricsPort, 'picks a free one');
  const { config, file } = await loadConfig({
    ...(options.config ? { file: options.config } : {}),
    ...(options.bus ? { bus: options.bus } : {}),
    overrides: { dataDir: options.dataDir, http: { host: options.host } },
  });
  const logger = createLogger();
  const serving = metricsPort === undefined ? null : await prepareServing(config);
  const assembly = await assemble(config, logger, pipelines ? { pipelines } : {});
  let server: KappaServer | null = null;
  let unwatch = () => {};
  let url: string | null = null;
  if (serving) {
    observe(serving, assembly);
    server = await createServer({
      api: false,
      bus: assembly.bus,
      ...(serving.metrics ? { metrics: serving.metrics } : {}),
      status: statusOf(assembly, config),
      readiness: readinessOf(assembly),
      logger,
      keys: serving.keys,
      ...(serving.tls ? { tls: serving.tls } : {}),
      maxConcurrentRequests: config.http.maxConcurrentRequests,
      headersTimeoutMs: toMillis(config.http.headersTimeout),
      requestTimeoutMs: toMillis(config.http.requestTimeout),
    });
    unwatch = watchKeys(config, serving, logger);
    try {
      url = await server.listen(metricsPort!, config.http.host);
    } catch (error) {
      unwatch();
      serving.metrics?.stop();
      await server.close().catch(() => {});
      await assembly.close();
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new Error(
          `Port ${metricsPort} on ${config.http.host} is in use: pass another --metrics-port (0 picks a free one)`,
        );
      throw error;
    }
  }
  const names = assembly.pipelines.map((p) => p.pipeline.name);
  logger.info(
    { bus: assembly.busDescription, config: file ?? '(defaults)', pipelines: names, url },
    'kappa worker is up',
  );
  process.stdout.write(
    `Kappa worker is running ${names.length === 0 ? 'no pipelines' : names.join(', ')} (${assembly.busDescription})${url ? `; metrics at ${url}/metrics` : ''}\n`,
  );
  stopOnSignal(logger, async () => {
    unwatch();
    await server?.close();
    serving?.metrics?.stop();
    await assembly.close();
  });
}
