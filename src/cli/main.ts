import { Command } from 'commander';
import { configSchema } from '../config/index.ts';
import { LOG_LEVELS } from '../core/index.ts';
import { cdcCommand } from './cdc.ts';
import { DEFAULT_URL, fail, KappaClient } from './client.ts';
import { consume } from './consume.ts';
import { dlqCommand } from './dlq.ts';
import { keysCommand } from './keys.ts';
import { offsetsCommand } from './offsets.ts';
import { produce } from './produce.ts';
import { replayCommand } from './replay.ts';
import { schemasCommand } from './schemas.ts';
import { statusCommands } from './status.ts';
import { topicsCommand } from './topics.ts';
import { up } from './up.ts';
import { viewsCommand } from './views.ts';
import { worker } from './worker.ts';

/** The `kappa` command. Client commands speak HTTP to a running Kappa, embedded or distributed alike. */
export function buildProgram(): Command {
  const program = new Command('kappa')
    .description('Kappa: real-time analytics on one stream path')
    .option('--url <url>', 'URL of a running Kappa (or KAPPA_URL)', process.env.KAPPA_URL || DEFAULT_URL)
    .option('--api-key <key>', 'API key for a Kappa that requires one (or KAPPA_API_KEY)')
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')} (or KAPPA_LOG_LEVEL; default info)`)
    .option(
      '--log-format <format>',
      'json or pretty (or KAPPA_LOG_FORMAT; default pretty on a terminal, json lines otherwise)',
    )
    .showHelpAfterError();
  // The flags reach every logger the command makes (createLogger reads these).
  program.hook('preAction', () => {
    const { logLevel, logFormat } = program.opts<{ logLevel?: string; logFormat?: string }>();
    if (logLevel !== undefined) process.env.KAPPA_LOG_LEVEL = logLevel;
    if (logFormat !== undefined) process.env.KAPPA_LOG_FORMAT = logFormat;
  });
  const client = () => {
    const { url, apiKey } = program.opts<{ url: string; apiKey?: string }>();
    return new KappaClient(url, apiKey ?? process.env.KAPPA_API_KEY);
  };
  // Defaults are the config's, shown here but not passed as option values: a flag given nowhere must
  // leave the config file's value in force.
  const defaults = configSchema.parse({});
  const clusterClient = async () => {
    const c = client();
    const clusters = await c.request<{ data: Array<{ cluster_id: string }> }>('GET', '/v3/clusters');
    return { client: c, clusterId: clusters.data[0]!.cluster_id };
  };

  program
    .command('up')
    .description('start Kappa: the log (embedded, or Kafka with --bus) and the HTTP API in one process')
    .option('--port <port>', `HTTP port, 0 picks a free one (default: ${defaults.http.port}, or http.port)`)
    .option(
      '--host <host>',
      `interface to listen on; any but loopback needs API keys (default: ${defaults.http.host}, or http.host)`,
    )
    .option('--data-dir <dir>', `where to keep data (default: ${defaults.dataDir}, or dataDir)`)
    .option('--config <file>', 'config file (default: kappa.config.{ts,js,mjs,yaml,yml,json} if present)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option(
      '--bus <url>',
      "the bus: 'embedded' or kafka://[user:pass@]host:port[,…][?sasl=SCRAM-SHA-512&tls=true] (or KAPPA_BUS)",
      process.env.KAPPA_BUS,
    )
    .option('--demo', 'generate payments and run three demo pipelines with views to query')
    .option(
      '--pg-port <port>',
      `port of the Postgres wire protocol over the views, 0 turns it off (default: ${defaults.views.pgPort}, or views.pgPort)`,
    )
    .action((options) => up(options));

  program
    .command('worker')
    .description('run pipelines without the HTTP API: several workers on Kafka share their partitions')
    .option('--pipelines <names>', 'run only these pipelines (names separated by commas)')
    .option(
      '--metrics-port <port>',
      'serve /metrics, /v1/status, /healthz and /readyz on this port, 0 picks a free one (default: none)',
    )
    .option('--host <host>', 'the address of --metrics-port (default: 127.0.0.1, or http.host)')
    .option('--data-dir <dir>', `where to keep local state (default: ${defaults.dataDir}, or dataDir)`)
    .option('--config <file>', 'config file (default: kappa.config.{ts,js,mjs,yaml,yml,json} if present)')
    .option(
      '--bus <url>',
      "the bus: 'embedded' or kafka://[user:pass@]host:port[,…] (or KAPPA_BUS)",
      process.env.KAPPA_BUS,
    )
    .action((options) => worker(options));

  topicsCommand(program, clusterClient);
  schemasCommand(program, client);
  dlqCommand(program, client);
  keysCommand(program);
  viewsCommand(program, client);
  cdcCommand(program, client);
  replayCommand(program);
  offsetsCommand(program);
  statusCommands(program, client);

  program
    .command('produce <topic>')
    .description('send JSON lines {"key":…,"value":…} from stdin to a topic')
    .action((topic: string) => produce(client(), topic));

  program
    .command('consume <topic>')
    .description("print a topic's records as JSON lines")
    .option('--from-beginning', 'start at the oldest record when the group has no committed offset')
    .option('--group <group>', 'read as a member of this consumer group, committing what was printed')
    .option('--max <n>', 'stop after n records')
    .action((topic: string, options) => consume(client(), topic, options));

  program.addHelpText(
    'after',
    '\nThe config file and every key with its default: docs/config.md. Environment: KAPPA_URL, KAPPA_API_KEY, KAPPA_BUS, KAPPA_LOG_LEVEL, KAPPA_LOG_FORMAT.',
  );

  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    fail(error);
  }
}
