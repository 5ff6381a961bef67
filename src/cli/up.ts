import { assemble, loadConfig } from '../config/index.ts';
import { createLogger } from '../core/index.ts';
import { createServer } from '../http/index.ts';

export interface UpOptions {
  port?: string;
  host?: string;
  dataDir?: string;
  config?: string;
  bus?: string;
}

/** `kappa up`: the whole slice in this process, on the embedded log or on Kafka, until SIGINT or SIGTERM. */
export async function up(options: UpOptions): Promise<void> {
  const port = options.port === undefined ? undefined : Number(options.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new Error(`--port must be a port number (0 picks a free one), got '${options.port}'`);
  }
  const { config, file } = await loadConfig({
    ...(options.config ? { file: options.config } : {}),
    ...(options.bus ? { bus: options.bus } : {}),
    overrides: { dataDir: options.dataDir, http: { port, host: options.host } },
  });
  const logger = createLogger();
  const assembly = await assemble(config, logger);
  const server = await createServer({
    bus: assembly.bus,
    registry: assembly.registry,
    logger,
    maxBodyBytes: config.http.maxBodyBytes,
    maxRecordsPerRequest: config.http.maxRecordsPerRequest,
    autoCreateTopics: config.topics.autoCreate,
    defaultPartitions: config.topics.defaultPartitions,
    requireSchema: config.topics.requireSchema,
  });
  let url: string;
  try {
    url = await server.listen(config.http.port, config.http.host);
  } catch (error) {
    await server.close().catch(() => {});
    await assembly.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `Port ${config.http.port} on ${config.http.host} is in use: stop what runs there or pass --port`,
      );
    }
    throw error;
  }
  logger.info(
    {
      url,
      bus: assembly.busDescription,
      config: file ?? '(defaults)',
      pipelines: assembly.pipelines.map((p) => p.pipeline.name),
    },
    'kappa is up',
  );
  // A line for people and scripts (tests read the URL from it), whatever the log level.
  process.stdout.write(`Kappa is up at ${url} (${assembly.busDescription})\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    try {
      await server.close();
      await assembly.close();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'unclean stop');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
