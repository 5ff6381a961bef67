import path from 'node:path';
import { assemble, loadConfig } from '../config/index.ts';
import { ConfigError, createLogger, toMillis } from '../core/index.ts';
import { createServer, isLoopback } from '../http/index.ts';
import { PgServer } from '../serve/index.ts';
import { PAYMENTS_PARTITIONS, PAYMENTS_TOPIC, startPaymentGenerator } from './demo/payments.ts';
import { demoPipelines } from './demo/pipelines.ts';
import { cdcSources, readinessOf } from './readiness.ts';
import { observe, portFlag, prepareServing, statusOf, watchKeys } from './serving.ts';
import { stopOnSignal } from './stop-on-signal.ts';

export interface UpOptions {
  port?: string;
  host?: string;
  dataDir?: string;
  config?: string;
  bus?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Generate payments and run the three demo pipelines with their views. */
  demo?: boolean;
  /** Port of the Postgres wire protocol; '0' turns it off. */
  pgPort?: string;
}

/** `kappa up`: the whole slice in this process, on the embedded log or on Kafka, until SIGINT or SIGTERM. */
export async function up(options: UpOptions): Promise<void> {
  const port = portFlag('--port', options.port, 'picks a free one');
  const pgFlag = portFlag('--pg-port', options.pgPort, 'turns it off');
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined))
    throw new ConfigError('--tls-cert and --tls-key go together: give both, or neither');
  const tls =
    options.tlsCert && options.tlsKey
      ? { certFile: path.resolve(options.tlsCert), keyFile: path.resolve(options.tlsKey) }
      : undefined;
  const { config, file } = await loadConfig({
    ...(options.config ? { file: options.config } : {}),
    ...(options.bus ? { bus: options.bus } : {}),
    overrides: {
      dataDir: options.dataDir,
      http: { port, host: options.host, tls },
      ...(pgFlag === undefined ? {} : { views: { pgPort: pgFlag === 0 ? null : pgFlag } }),
    },
  });
  const logger = createLogger();
  const serving = await prepareServing(config);
  const { keys, metrics } = serving;
  const assembly = await assemble(config, logger, {
    sources: true,
    ...(options.demo
      ? {
          extra: {
            pipelines: demoPipelines(),
            topics: [{ name: PAYMENTS_TOPIC, partitions: PAYMENTS_PARTITIONS }],
          },
        }
      : {}),
  });
  observe(serving, assembly);
  const server = await createServer({
    bus: assembly.bus,
    ...(metrics ? { metrics } : {}),
    status: statusOf(assembly, config),
    registry: assembly.registry,
    registryTopic: config.registry.topic,
    logger,
    keys,
    ...(serving.tls ? { tls: serving.tls } : {}),
    maxBodyBytes: config.http.maxBodyBytes,
    maxRecordsPerRequest: config.http.maxRecordsPerRequest,
    maxJsonDepth: config.http.maxJsonDepth,
    maxConcurrentRequests: config.http.maxConcurrentRequests,
    maxPendingProduceBytes: config.http.maxPendingProduceBytes,
    headersTimeoutMs: toMillis(config.http.headersTimeout),
    requestTimeoutMs: toMillis(config.http.requestTimeout),
    autoCreateTopics: config.topics.autoCreate,
    defaultPartitions: config.topics.defaultPartitions,
    maxPartitionsPerTopic: config.topics.maxPartitions,
    requireSchema: config.topics.requireSchema,
    views: assembly.views,
    maxQueryRows: config.views.maxQueryRows,
    queryTimeoutMs: toMillis(config.views.queryTimeout),
    maxLiveStreams: config.views.maxLiveStreams,
    readiness: readinessOf(assembly),
    cdc: () => cdcSources(assembly).map((s) => s.status()),
  });
  const unwatch = watchKeys(config, serving, logger);
  let url: string;
  const pg =
    config.views.pgPort === null
      ? null
      : new PgServer({
          views: assembly.views,
          keys,
          maxRows: config.views.maxQueryRows,
          timeoutMs: toMillis(config.views.queryTimeout),
          logger,
        });
  let pgPort: number | null = null;
  try {
    url = await server.listen(config.http.port, config.http.host);
    // The same rule as HTTP (server.listen refused a public host without keys above).
    if (pg)
      pgPort = await pg
        .listen(config.views.pgPort!, config.http.host)
        .catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'EADDRINUSE'
            ? new Error(
                `Port ${config.views.pgPort} on ${config.http.host} (the Postgres wire protocol) is in use: pass --pg-port, or --pg-port 0 to turn it off`,
              )
            : error;
        });
  } catch (error) {
    unwatch();
    metrics?.stop();
    await pg?.close().catch(() => {});
    await server.close().catch(() => {});
    await assembly.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `Port ${config.http.port} on ${config.http.host} is in use: stop what runs there or pass --port`,
      );
    }
    throw error;
  }
  if (!serving.tls && !isLoopback(config.http.host))
    logger.warn(
      { host: config.http.host },
      'API keys cross the network in clear text: serve HTTPS with --tls-cert and --tls-key',
    );
  logger.info(
    {
      url,
      bus: assembly.busDescription,
      config: file ?? '(defaults)',
      auth: keys.enabled ? 'API keys' : 'none (loopback only)',
      pipelines: assembly.pipelines.map((p) => p.pipeline.name),
    },
    'kappa is up',
  );
  // A line for people and scripts (tests read the URL from it), whatever the log level.
  process.stdout.write(`Kappa is up at ${url} (${assembly.busDescription})\n`);
  const psql =
    pgPort === null
      ? null
      : `psql "postgresql://kappa${keys.enabled ? ':$KAPPA_API_KEY' : ''}@${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${pgPort}/kappa"`;
  if (psql) process.stdout.write(`Views answer SQL over the Postgres protocol: ${psql}\n`);
  const generator = options.demo ? startPaymentGenerator(assembly.bus) : null;
  if (generator) process.stdout.write(demoHelp(url, keys.enabled, psql));

  stopOnSignal(logger, async () => {
    await generator?.stop();
    await pg?.close();
    unwatch();
    await server.close();
    metrics?.stop();
    await assembly.close();
  });
}

function demoHelp(url: string, withKeys: boolean, psql: string | null): string {
  const auth = withKeys ? ' -H "Authorization: Bearer $KAPPA_API_KEY"' : '';
  return [
    '',
    `Demo: 200 payments a second flow into topic '${PAYMENTS_TOPIC}', and three pipelines keep these views:`,
    '  revenue_per_merchant  revenue per merchant, 5-minute windows, payments up to 2 minutes late count',
    '  user_journeys         each user’s payments with no 30 s gap (session windows)',
    '  declined_per_card     declined payments per card per minute (a fraud rule)',
    '',
    'Try:',
    `  curl${auth} ${url}/v1/views`,
    `  curl${auth} '${url}/v1/views/revenue_per_merchant/top?by=revenue&n=5'`,
    `  curl${auth} -N ${url}/v1/views/declined_per_card/live`,
    `  npx kappa query "SELECT key AS card, declines FROM declined_per_card ORDER BY window_start DESC, declines DESC LIMIT 5"`,
    ...(psql
      ? [
          `  ${psql} -c 'SELECT key AS merchant, revenue FROM revenue_per_merchant ORDER BY revenue DESC LIMIT 5'`,
        ]
      : []),
    '',
  ].join('\n');
}
