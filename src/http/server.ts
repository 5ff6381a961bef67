import { isIP } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  ConfigError,
  KeyRing,
  kappaTopics,
  type Logger,
  type StoredApiKey,
  silentLogger,
  topicMatcher,
} from '../core/index.ts';
import type { SourceStatus } from '../ingest/index.ts';
import type { Bus } from '../log/index.ts';
import { type SchemaRegistry, WireSerde } from '../registry/index.ts';
import type { Views } from '../serve/index.ts';
import { installAuth } from './auth/index.ts';
import { ConsumerInstances } from './consumer-instances.ts';
import { KAFKA_V2_JSON, registerContentTypes } from './content-types.ts';
import { replyError } from './errors.ts';
import { requested } from './http-events.ts';
import { IdempotentProduce } from './idempotence.ts';
import { DEFAULT_MAX_JSON_DEPTH } from './json-body.ts';
import { limitConcurrentRequests } from './request-limit.ts';
import { cdcRoutes } from './routes/cdc-v1.ts';
import { consumersV2Routes } from './routes/consumers-v2.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { healthRoutes } from './routes/health.ts';
import { openApiRoute } from './routes/openapi.ts';
import { type MetricsText, opsRoutes } from './routes/ops.ts';
import { produceRoutes } from './routes/produce.ts';
import { recordsRoutes } from './routes/records.ts';
import { recordsV3Routes } from './routes/records-v3.ts';
import { registryRoutes } from './routes/registry/index.ts';
import { topicsV3Routes } from './routes/topics-v3.ts';
import { viewRoutes } from './routes/views-v1.ts';

export interface ServerOptions {
  bus: Bus;
  /** Serves Confluent's Schema Registry API when given. */
  registry?: SchemaRegistry;
  /** The registry's topic, one of Kappa's own. Default `_schemas`. */
  registryTopic?: string;
  logger?: Logger;
  /**
   * API keys (hashed), or a ring that can change while the server runs. With none, every route is
   * open and the server listens on loopback only.
   */
  keys?: StoredApiKey[] | KeyRing;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  maxBodyBytes?: number;
  maxRecordsPerRequest?: number;
  /** Deepest nesting of objects and arrays in a JSON body. Default 64. */
  maxJsonDepth?: number;
  /** Bytes of records waiting to be appended past which produce answers 429 with Retry-After. Default 64 MiB. */
  maxPendingProduceBytes?: number;
  /** Requests answered at once; more get 429 with Retry-After. Default 256. */
  maxConcurrentRequests?: number;
  /** How long a client may take to send a request's headers, and the whole request. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  autoCreateTopics?: boolean;
  defaultPartitions?: number;
  /** Most partitions a topic created through the API may have. Default 1000. */
  maxPartitionsPerTopic?: number;
  clusterId?: string;
  /** Topics whose values must be written with a schema (exact names or `*` patterns). */
  requireSchema?: string[];
  /** How long an unused REST Proxy consumer instance lives. Default 5 minutes. */
  consumerIdleMs?: number;
  /**
   * What runs beside the server: `/readyz` answers 503 with the `notReady` reasons (pipelines
   * restoring state), and lists `notes` (idle source partitions) without failing.
   */
  readiness?: () => { notReady: string[]; notes: string[] };
  /** Serves the query API (/v1/views, /v1/query) over these views. */
  views?: Views;
  /** Rows a query answers at most. Default 10,000. */
  maxQueryRows?: number;
  /** How long a query may run. Default 10 s. */
  queryTimeoutMs?: number;
  /** Live view streams open at once. Default 1,000. */
  maxLiveStreams?: number;
  /** Where each CDC source is (`GET /v1/cdc`); default none. */
  cdc?: () => SourceStatus[];
  /** Serves `GET /metrics` (Prometheus's text format) from these metrics. */
  metrics?: MetricsText;
  /** Serves `GET /v1/status` and its live feed: topics, groups with lag, pipelines, views, dead letters (ops/'s readStatus). */
  status?: () => Promise<object>;
  /** The built dashboard served at `/`: its folder (default dist/dashboard), or false for none. */
  dashboard?: string | false;
  /**
   * False: only health, metrics and status (`kappa worker --metrics-port`), no produce, records,
   * registry, views or dashboard. Default true.
   */
  api?: boolean;
}

export interface KappaServer {
  app: FastifyInstance;
  /** Every route with its method, as registered (each has an entry in the access table). */
  routes: ReadonlyArray<{ method: string; url: string }>;
  /**
   * Starts listening; resolves with the URL (port 0 picks a free port). Without API keys only a
   * loopback address is allowed: anything else would open every route to the network.
   */
  listen(port: number, host: string): Promise<string>;
  /** Stops accepting requests, finishes the ones running, closes consumer instances. */
  close(): Promise<void>;
}

/** The one HTTP server: REST Proxy produce, consumers and topic admin, record reads, registry, health. */
export async function createServer(options: ServerOptions): Promise<KappaServer> {
  // Fastify's own per-request logging stays off: a busy ingest endpoint would drown the log. Errors
  // worth an operator's attention are logged by replyError.
  const logger = options.logger ?? silentLogger;
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const serverOptions = {
    headersTimeout,
    requestTimeout,
    // Node checks both timeouts on this period; its default (30 s) would stretch a 1 s timeout to 31.
    connectionsCheckingInterval: Math.max(100, Math.min(headersTimeout, requestTimeout, 30_000) / 4),
  };
  const app = Fastify({
    bodyLimit: options.maxBodyBytes ?? 16 * 1024 * 1024,
    // Kafka allows topic names of 249 characters; subjects add a suffix. Fastify's default (100) would
    // answer 414 to every route of a valid topic.
    routerOptions: { maxParamLength: 1024 },
    requestTimeout,
    ...(options.tls ? { https: { ...serverOptions, ...options.tls } } : { http: serverOptions }),
    // Reading a stalled body must not hold a shutdown.
    forceCloseConnections: true,
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  const keys = options.keys instanceof KeyRing ? options.keys : new KeyRing(options.keys ?? []);
  const owned = kappaTopics(options.registryTopic);
  const maxJsonDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  registerContentTypes(app, maxJsonDepth);
  limitConcurrentRequests(app, options.maxConcurrentRequests ?? 256);
  app.addHook('onResponse', async (request, reply) => {
    if (requested.hasSubscribers)
      requested.publish({
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        seconds: reply.elapsedTime / 1000,
      });
  });
  const routes = installAuth(app, { keys, owned });
  app.setErrorHandler((error, request, reply) =>
    replyError(reply.type(KAFKA_V2_JSON), request, error, logger),
  );
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error_code: 404, message: `No route for ${request.method} ${request.url}` }),
  );

  healthRoutes(app, {
    bus: options.bus,
    ...(options.registry ? { registryTopic: options.registryTopic ?? '_schemas' } : {}),
    ...(options.readiness ? { readiness: options.readiness } : {}),
  });
  opsRoutes(app, {
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.status ? { status: options.status } : {}),
  });
  const api =
    options.api === false ? null : await apiRoutes(app, options, { owned, maxJsonDepth, logger, keys });
  await app.ready();

  return {
    app,
    routes,
    async listen(port, host) {
      if (!keys.enabled && !isLoopback(host))
        throw new ConfigError(
          `Refusing to listen on ${host} without API keys: every route would be open to the network. ` +
            'Create a key with `kappa keys create <name> --scope admin` (it is stored hashed in the keys file) and start again, or listen on 127.0.0.1',
        );
      await app.listen({ port, host });
      const address = app.server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      const scheme = options.tls ? 'https' : 'http';
      return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${actual}`;
    },
    async close() {
      await api?.close();
      await app.close();
    },
  };
}

/**
 * Every route but health, metrics and status: REST Proxy produce, consumers and topic admin, record
 * reads, dead letters, CDC, the query API, the registry and the dashboard. Returns what closes
 * what they hold (consumer instances, the producer).
 */
async function apiRoutes(
  app: FastifyInstance,
  options: ServerOptions,
  shared: { owned: (topic: string) => boolean; maxJsonDepth: number; logger: Logger; keys: KeyRing },
): Promise<{ close(): Promise<void> }> {
  const { owned, maxJsonDepth, logger, keys } = shared;
  const producer = options.bus.producer();
  const serde = options.registry ? new WireSerde(options.registry) : undefined;
  const instances = new ConsumerInstances(options.bus, options.consumerIdleMs);
  const idempotence = new IdempotentProduce(options.bus);
  produceRoutes(app, {
    bus: options.bus,
    producer,
    idempotence,
    maxPendingBytes: options.maxPendingProduceBytes ?? 64 * 1024 * 1024,
    owned,
    maxRecordsPerRequest: options.maxRecordsPerRequest ?? 10_000,
    autoCreateTopics: options.autoCreateTopics ?? false,
    defaultPartitions: options.defaultPartitions ?? 1,
    ...(options.registry && serde ? { registry: { registry: options.registry, serde } } : {}),
    requireSchema: topicMatcher(options.requireSchema ?? []),
  });
  topicsV3Routes(app, {
    bus: options.bus,
    clusterId: options.clusterId ?? 'kappa',
    owned,
    logger,
    maxPartitions: options.maxPartitionsPerTopic ?? 1000,
  });
  recordsV3Routes(app, {
    bus: options.bus,
    producer,
    clusterId: options.clusterId ?? 'kappa',
    owned,
    ...(options.registry && serde ? { registry: { registry: options.registry, serde } } : {}),
    maxRecordsPerRequest: options.maxRecordsPerRequest ?? 10_000,
    maxJsonDepth,
    logger,
  });
  consumersV2Routes(app, instances, serde);
  recordsRoutes(app, options.bus, serde);
  deadLetterRoutes(app, { bus: options.bus, producer, owned });
  cdcRoutes(app, options.cdc ?? (() => []));
  openApiRoute(app);
  if (options.views)
    viewRoutes(app, {
      views: options.views,
      maxQueryRows: options.maxQueryRows ?? 10_000,
      queryTimeoutMs: options.queryTimeoutMs ?? 10_000,
      maxLiveStreams: options.maxLiveStreams ?? 1000,
    });
  if (options.registry) await app.register(registryRoutes(options.registry, logger, maxJsonDepth));
  if (options.dashboard !== false)
    await dashboardRoutes(app, { dir: options.dashboard, keysRequired: () => keys.enabled });
  return {
    async close() {
      await instances.close();
      await producer.close();
      await idempotence.close();
    },
  };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const kind = isIP(host);
  if (kind === 4) return host.startsWith('127.');
  if (kind === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}
