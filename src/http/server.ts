import Fastify, { type FastifyInstance } from 'fastify';
import { type Logger, silentLogger, topicMatcher } from '../core/index.ts';
import type { Bus } from '../log/index.ts';
import { type SchemaRegistry, WireSerde } from '../registry/index.ts';
import { ConsumerInstances } from './consumer-instances.ts';
import { registerContentTypes } from './content-types.ts';
import { toRestError } from './errors.ts';
import { consumersV2Routes } from './routes/consumers-v2.ts';
import { healthRoutes } from './routes/health.ts';
import { produceRoutes } from './routes/produce.ts';
import { recordsRoutes } from './routes/records.ts';
import { registryRoutes } from './routes/registry/index.ts';
import { topicsV3Routes } from './routes/topics-v3.ts';

export interface ServerOptions {
  bus: Bus;
  /** Serves Confluent's Schema Registry API when given. */
  registry?: SchemaRegistry;
  logger?: Logger;
  maxBodyBytes?: number;
  maxRecordsPerRequest?: number;
  autoCreateTopics?: boolean;
  defaultPartitions?: number;
  clusterId?: string;
  /** Topics whose values must be written with a schema (exact names or `*` patterns). */
  requireSchema?: string[];
  /** How long an unused REST Proxy consumer instance lives. Default 5 minutes. */
  consumerIdleMs?: number;
}

export interface KappaServer {
  app: FastifyInstance;
  /** Starts listening; resolves with the URL (port 0 picks a free port). */
  listen(port: number, host: string): Promise<string>;
  /** Stops accepting requests, finishes the ones running, closes consumer instances. */
  close(): Promise<void>;
}

/** The one HTTP server: REST Proxy produce, consumers and topic admin, record reads, health. */
export async function createServer(options: ServerOptions): Promise<KappaServer> {
  // Fastify's own per-request logging stays off: a busy ingest endpoint would drown the log. Errors
  // worth an operator's attention are logged by the error handler below.
  const logger = options.logger ?? silentLogger;
  const app = Fastify({ bodyLimit: options.maxBodyBytes ?? 16 * 1024 * 1024 });
  registerContentTypes(app);
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toRestError(error);
    if (status >= 500)
      logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    return reply.code(status).type('application/vnd.kafka.v2+json').send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error_code: 404, message: `No route for ${request.method} ${request.url}` }),
  );

  const producer = options.bus.producer();
  const instances = new ConsumerInstances(options.bus, options.consumerIdleMs);
  healthRoutes(app, options.bus);
  produceRoutes(app, {
    bus: options.bus,
    producer,
    maxRecordsPerRequest: options.maxRecordsPerRequest ?? 10_000,
    autoCreateTopics: options.autoCreateTopics ?? false,
    defaultPartitions: options.defaultPartitions ?? 1,
    ...(options.registry
      ? { registry: { registry: options.registry, serde: new WireSerde(options.registry) } }
      : {}),
    requireSchema: topicMatcher(options.requireSchema ?? []),
  });
  topicsV3Routes(app, { bus: options.bus, clusterId: options.clusterId ?? 'kappa' });
  consumersV2Routes(app, instances);
  recordsRoutes(app, options.bus);
  if (options.registry) await app.register(registryRoutes(options.registry, logger));
  await app.ready();

  return {
    app,
    async listen(port, host) {
      await app.listen({ port, host });
      const address = app.server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
    },
    async close() {
      await instances.close();
      await producer.close();
      await app.close();
    },
  };
}
