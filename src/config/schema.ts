import { z } from 'zod';
import { API_KEY_HASH, SCOPE_SYNTAX } from '../core/index.ts';
import { COMPATIBILITY_LEVELS } from '../registry/index.ts';

// Every field's `.describe()` is its documentation: docs/config.md is generated from this schema
// (`npm run docs:config`), and a test fails when the two differ.

const duration = z.union([z.number().nonnegative(), z.string().min(1)]);
const fsync = z.union([z.literal('batch'), z.literal('never'), duration]);

const tls = z.union([
  z.boolean(),
  z
    .object({
      ca: z
        .string()
        .min(1)
        .optional()
        .describe('PEM text of the CA that signed the brokers’ certificates (or a path in `caFile`).'),
      caFile: z
        .string()
        .min(1)
        .optional()
        .describe('Path to the CA’s PEM file, relative to the config file.'),
      cert: z.string().min(1).optional().describe('Client certificate (mutual TLS), as PEM text.'),
      certFile: z.string().min(1).optional().describe('Client certificate as a path.'),
      key: z.string().min(1).optional().describe('Client key (mutual TLS), as PEM text.'),
      keyFile: z.string().min(1).optional().describe('Client key as a path.'),
      servername: z
        .string()
        .min(1)
        .optional()
        .describe('Name to check the certificate against when it differs from the broker address.'),
      rejectUnauthorized: z
        .boolean()
        .optional()
        .describe('Default true. false accepts any certificate: for a laptop against a test cluster only.'),
    })
    .strict(),
]);

const kafkaBus = z
  .object({
    kind: z.literal('kafka'),
    brokers: z
      .array(z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'a broker is host:port'))
      .min(1)
      .describe('`host:port` of one or more brokers; the client finds the rest.'),
    clientId: z.string().min(1).default('kappa').describe('Client id the brokers see.'),
    tls: tls
      .optional()
      .describe('TLS to the brokers: `true` trusts the system’s CAs, or an object of files.'),
    sasl: z
      .object({
        mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']).describe('SASL mechanism.'),
        username: z.string().min(1).describe('SASL user.'),
        password: z.string().describe('SASL password.'),
      })
      .strict()
      .optional()
      .describe('SASL credentials.'),
    compression: z
      .enum(['none', 'gzip', 'snappy', 'lz4', 'zstd'])
      .default('none')
      .describe('Compression of produced batches.'),
    replicationFactor: z
      .number()
      .int()
      .min(-1)
      .max(32)
      .default(-1)
      .describe('Replicas of topics Kappa creates; -1 lets the broker decide (default.replication.factor).'),
    maxRecordBytes: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe(
        'Largest record (key + value + headers) accepted before sending; fits the broker’s max.message.bytes.',
      ),
    maxBatchBytes: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe('Largest batch for one partition in one request: bigger sends are split.'),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .default(5000)
      .describe('Request timeout, also the transaction timeout.'),
    retries: z.number().int().min(0).max(100).default(5).describe('Retries of a failed request.'),
  })
  .strict();

const kinesisConnection = {
  region: z.string().min(1).default('us-east-1').describe('The stream’s AWS region.'),
  endpoint: z
    .string()
    .url()
    .optional()
    .describe('A Kinesis-compatible server (`http://localhost:4568`); default AWS’s.'),
  credentials: z
    .object({
      accessKeyId: z.string().min(1).describe('AWS access key id.'),
      secretAccessKey: z.string().min(1).describe('AWS secret access key.'),
    })
    .strict()
    .optional()
    .describe('Default: the AWS SDK’s chain (environment, profile, instance role).'),
};

/** One API key as the config and the keys file keep it (keys-file.ts adds when it was made). */
export const apiKeySchema = z
  .object({
    name: z
      .string()
      .regex(/^[\w.@-]{1,100}$/, 'a key name is 1-100 letters, digits, ".", "_", "@" or "-"')
      .describe('Who the key is for; shown in logs, never the key itself.'),
    hash: z
      .string()
      .regex(API_KEY_HASH, 'a key hash is sha256:<64 hex digits>, as `kappa keys create` writes')
      .describe('`sha256:<hex>` of the key, as `kappa keys create` prints it.'),
    scopes: z
      .array(z.string().regex(SCOPE_SYNTAX, 'unknown scope'))
      .min(1)
      .describe(
        'What the key may do: `produce:<pattern>`, `consume:<pattern>`, `query:<pattern>`, `registry:read`, `registry:write`, `monitor`, `admin`.',
      ),
  })
  .strict();

/**
 * The Kappa config. Every field has a default, and the defaults give the embedded shape: `kappa up`
 * with no config file runs everything in one process on ./data.
 */
export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data').describe('Where the embedded log keeps its data.'),
    http: z
      .object({
        host: z
          .string()
          .min(1)
          .default('127.0.0.1')
          .describe('Interface to listen on. Any but loopback needs API keys (`auth`).'),
        port: z.number().int().min(0).max(65535).default(8080).describe('HTTP port; 0 picks a free one.'),
        tls: z
          .object({
            certFile: z.string().min(1).describe('PEM certificate (chain) file.'),
            keyFile: z.string().min(1).describe('PEM private key file.'),
          })
          .strict()
          .optional()
          .describe('Serve HTTPS (also `--tls-cert` and `--tls-key`).'),
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 * 1024)
          .describe('Largest request body, in bytes (413 beyond).'),
        maxRecordsPerRequest: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe('Most records in one produce request (413 beyond).'),
        maxJsonDepth: z
          .number()
          .int()
          .min(2)
          .max(1000)
          .default(64)
          .describe('Deepest nesting of objects and arrays in a JSON body (400 beyond).'),
        maxPendingProduceBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024 * 1024)
          .describe(
            'Bytes of produced records waiting for the log, past which produce answers 429 with Retry-After instead of holding more.',
          ),
        maxConcurrentRequests: z
          .number()
          .int()
          .positive()
          .default(256)
          .describe('Requests answered at once; beyond, 429 with Retry-After. Health checks are exempt.'),
        headersTimeout: duration.default('10s').describe('Time a client has to send a request’s headers.'),
        requestTimeout: duration
          .default('30s')
          .describe('Time a client has to send a whole request (408 beyond); answers may take longer.'),
        metrics: z
          .boolean()
          .default(true)
          .describe(
            'Keep Prometheus metrics and serve them at `GET /metrics` (scope monitor). False: the layers publish nothing.',
          ),
      })
      .strict()
      .prefault({})
      .describe('The HTTP server.'),
    auth: z
      .object({
        keys: z
          .array(apiKeySchema)
          .default([])
          .describe('API keys: `{name, hash, scopes}`. Prefer the keys file, which `kappa keys` manages.'),
        keysFile: z
          .string()
          .min(1)
          .default('kappa.keys.json')
          .describe('File of API keys written by `kappa keys create` (hashes only), reread when it changes.'),
      })
      .strict()
      .prefault({})
      .describe(
        'API keys and their scopes: produce:<topic pattern>, consume:<topic pattern>, registry:read, registry:write, monitor, admin. With none, every route is open and Kappa listens on loopback only.',
      ),
    bus: z
      .discriminatedUnion('kind', [z.object({ kind: z.literal('embedded') }).strict(), kafkaBus])
      .prefault({ kind: 'embedded' })
      .describe(
        'The log everything runs on: `{kind: embedded}` (default) or `{kind: kafka, brokers: [...]}`.',
      ),
    log: z
      .object({
        maxRecordBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024)
          .describe('Largest record (key + value + headers), in bytes.'),
        fsync: fsync
          .default('batch')
          .describe("Default fsync policy of new topics: 'batch', 'never', or an interval such as '1s'."),
        segmentBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 * 1024 * 1024)
          .describe('Size at which a partition rolls to a new segment file.'),
        maintenanceInterval: duration.default('30s').describe('How often retention and compaction run.'),
        maxPartitions: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe('Partitions of all topics together, internal ones included.'),
        maxOpenFiles: z
          .number()
          .int()
          .min(16)
          .default(512)
          .describe('Segment files held open at once; the least recently used are closed beyond.'),
      })
      .strict()
      .prefault({})
      .describe('The embedded log.'),
    registry: z
      .object({
        topic: z
          .string()
          .min(1)
          .default('_schemas')
          .describe('The compacted topic subjects, versions and settings are kept in, as Confluent’s.'),
        defaultCompatibility: z
          .enum(COMPATIBILITY_LEVELS)
          .default('BACKWARD')
          .describe('Compatibility level of subjects without their own.'),
        maxSchemaBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024)
          .describe('Largest schema text accepted, in bytes.'),
      })
      .strict()
      .prefault({})
      .describe('The schema registry.'),
    pipelines: z
      .object({
        dir: z
          .string()
          .min(1)
          .default('./pipelines')
          .describe('Where pipeline files are: each exports default a pipeline.'),
        deadLetterTopic: z
          .string()
          .min(1)
          .default('dead-letters')
          .describe('Where records that cannot be processed go, with why in their headers.'),
        checkpointInterval: duration
          .default('5m')
          .describe(
            'How often each task copies its window state to <dataDir>/checkpoints (the embedded log then truncates the changelogs below the copy).',
          ),
        commitInterval: duration
          .default('1s')
          .describe(
            'How often a pipeline stage that is behind (its polls come back full) commits its output, state and offsets, one transaction; a stage that has caught up commits after every poll. Longer: more throughput while catching up, results later.',
          ),
        maxPendingBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 * 1024)
          .describe(
            'Output a pipeline stage holds before it commits, whatever is left of its poll (backpressure).',
          ),
        stateCacheBytes: z
          .number()
          .int()
          .positive()
          .default(128 * 1024 * 1024)
          .describe(
            'Memory for each pipeline task’s state (windows, sessions, join elements; estimated) and for each joined table’s decoded rows; past it, state unchanged since the last commit is read back from the local store when needed.',
          ),
        purgeInterval: duration
          .default('10s')
          .describe('How often a stage deletes the repartition records it has committed past.'),
      })
      .strict()
      .prefault({})
      .describe('Pipelines that `kappa up` and `kappa worker` run.'),
    topics: z
      .object({
        autoCreate: z
          .boolean()
          .default(false)
          .describe(
            'Create a topic on first produce, and a pipeline’s missing source topic, instead of refusing.',
          ),
        defaultPartitions: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .default(1)
          .describe('Partitions of topics made by autoCreate.'),
        maxPartitions: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .default(1000)
          .describe('Most partitions of one topic.'),
        requireSchema: z
          .array(z.string().min(1))
          .default([])
          .describe(
            'Topics (exact names or `*` patterns) whose values must be written with a schema of `<topic>-value` (422 otherwise).',
          ),
      })
      .strict()
      .prefault({})
      .describe('Topics.'),
    cdc: z
      .object({
        sources: z
          .array(
            z
              .object({
                name: z
                  .string()
                  .regex(
                    /^[a-z][a-z0-9_]{0,39}$/,
                    'a source name is 1-40 lower-case letters, digits or "_", starting with a letter',
                  )
                  .describe('The source’s name: its tables’ topics are `<name>.<schema>.<table>`.'),
                kind: z.literal('postgres').describe('`postgres`: logical replication with pgoutput.'),
                url: z
                  .string()
                  .min(1)
                  .describe(
                    'postgres://user:password@host:port/database; the user needs REPLICATION and SELECT on the tables.',
                  ),
                tables: z
                  .array(z.string().regex(/^[^.\s]+(\.[^.\s]+)?$/, 'a table is `name` or `schema.name`'))
                  .min(1)
                  .describe('Tables to capture: `orders` (schema public) or `sales.orders`.'),
                slot: z
                  .string()
                  .regex(/^[a-z0-9_]{1,63}$/, 'a slot name is 1-63 lower-case letters, digits or "_"')
                  .optional()
                  .describe('The replication slot; default `kappa_<name>`. Kappa makes it.'),
                publication: z
                  .string()
                  .min(1)
                  .max(63)
                  .optional()
                  .describe('The publication; default `kappa_<name>`. Kappa makes it and keeps its tables.'),
                partitions: z
                  .number()
                  .int()
                  .min(1)
                  .max(10_000)
                  .default(1)
                  .describe('Partitions of each table’s topic when Kappa makes it.'),
              })
              .strict(),
          )
          .default([])
          .describe(
            'Databases whose changes `kappa up` captures into topics, one per table (docs/ingest.md).',
          ),
        warnRetainedWalBytes: z
          .number()
          .int()
          .positive()
          .default(1024 ** 3)
          .describe('Warn when a source’s replication slot holds back more WAL than this, in bytes.'),
        snapshotPageRows: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(5000)
          .describe(
            'Rows of a snapshot written per bus transaction (and where a cut-short snapshot resumes).',
          ),
      })
      .strict()
      .prefault({})
      .describe('Change data capture (`kappa cdc`).'),
    kinesis: z
      .object({
        sources: z
          .array(
            z
              .object({
                name: z
                  .string()
                  .regex(/^[\w.-]{1,100}$/, 'a source name is 1-100 letters, digits, ".", "_" or "-"')
                  .describe('The source’s name: its position on the bus is kept under it.'),
                ...kinesisConnection,
                stream: z.string().min(1).describe('The Kinesis stream read.'),
                topic: z
                  .string()
                  .min(1)
                  .describe('The topic its records are written to, keyed by partition key.'),
                partitions: z
                  .number()
                  .int()
                  .min(1)
                  .max(10_000)
                  .default(1)
                  .describe('Partitions of the topic when Kappa makes it.'),
                from: z
                  .enum(['earliest', 'latest'])
                  .default('earliest')
                  .describe(
                    'Where a shard Kappa has not read yet starts: its oldest record, or new ones only.',
                  ),
                pollInterval: duration
                  .default('1s')
                  .describe('Wait between reads when the stream has nothing new.'),
              })
              .strict(),
          )
          .default([])
          .describe('Kinesis streams `kappa up` copies into topics, exactly once (docs/ingest.md).'),
        sinks: z
          .array(
            z
              .object({
                name: z
                  .string()
                  .regex(/^[\w.-]{1,100}$/, 'a sink name is 1-100 letters, digits, ".", "_" or "-"')
                  .describe('The sink’s name: its consumer group is `kappa-kinesis-sink-<name>`.'),
                ...kinesisConnection,
                topic: z.string().min(1).describe('The topic whose records are put into the stream.'),
                stream: z.string().min(1).describe('The Kinesis stream written.'),
              })
              .strict(),
          )
          .default([])
          .describe('Topics `kappa up` puts into Kinesis streams, at least once (docs/ingest.md).'),
      })
      .strict()
      .prefault({})
      .describe('Amazon Kinesis streams in and out.'),
    archive: z
      .object({
        topics: z
          .array(z.string().min(1))
          .default([])
          .describe('Topics `kappa up` copies into the archive continuously (docs/history.md).'),
        deadLetters: z
          .boolean()
          .default(true)
          .describe('Archive the dead-letter topic too, so dead letters outlive the log’s retention.'),
        every: duration
          .default('1m')
          .describe('How often each partition’s new records become an archive file.'),
        format: z.literal('parquet').default('parquet').describe('`parquet` (zstd-compressed).'),
        store: z
          .discriminatedUnion('kind', [
            z
              .object({
                kind: z.literal('folder'),
                dir: z.string().min(1).optional().describe('Default `<dataDir>/archive`.'),
              })
              .strict(),
            z
              .object({
                kind: z.literal('s3'),
                bucket: z.string().min(1).describe('The bucket (it must exist).'),
                prefix: z.string().default('').describe('Keys start with this, e.g. `kappa/`.'),
                region: z.string().min(1).default('us-east-1').describe('The bucket’s region.'),
                endpoint: z
                  .string()
                  .url()
                  .optional()
                  .describe('An S3-compatible server, e.g. `http://127.0.0.1:9000`; default AWS.'),
                forcePathStyle: z
                  .boolean()
                  .default(false)
                  .describe('Bucket in the path, as most S3-compatible servers want.'),
                credentials: z
                  .object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) })
                  .strict()
                  .optional()
                  .describe('Default: the AWS chain (environment, profile, instance role).'),
              })
              .strict(),
          ])
          .prefault({ kind: 'folder' })
          .describe('Where the archive lives: `{kind: folder}` (default) or `{kind: s3, bucket}`.'),
      })
      .strict()
      .prefault({})
      .describe('The archive of topics in object storage (`kappa replay`, `archive.<topic>` in SQL).'),
    views: z
      .object({
        store: z
          .discriminatedUnion('kind', [
            z
              .object({
                kind: z.literal('duckdb'),
                file: z
                  .string()
                  .min(1)
                  .optional()
                  .describe('The DuckDB file; default `<dataDir>/views/views.duckdb`.'),
              })
              .strict(),
            z
              .object({
                kind: z.literal('postgres'),
                url: z.string().min(1).describe('postgres://user:password@host:port/database'),
                queryUrl: z
                  .string()
                  .min(1)
                  .optional()
                  .describe(
                    'A role with SELECT on the views only, for queries; default: a role `<schema>_query` that Kappa makes.',
                  ),
                schema: z.string().min(1).default('kappa').describe('Schema the views go in.'),
              })
              .strict(),
          ])
          .prefault({ kind: 'duckdb' })
          .describe('Where views live: `{kind: duckdb}` (default) or `{kind: postgres, url}`.'),
        cache: z
          .discriminatedUnion('kind', [
            z
              .object({
                kind: z.literal('memory'),
                maxBytes: z
                  .number()
                  .int()
                  .positive()
                  .default(64 * 1024 * 1024)
                  .describe('Memory the cache may hold, in bytes.'),
              })
              .strict(),
            z
              .object({
                kind: z.literal('redis'),
                url: z.string().min(1).describe('redis://host:port'),
                prefix: z.string().min(1).default('kappa').describe('Key prefix in Redis.'),
              })
              .strict(),
          ])
          .prefault({ kind: 'memory' })
          .describe(
            'The point-lookup cache: the latest window per key. `{kind: memory}` or `{kind: redis, url}`.',
          ),
        maxQueryRows: z.number().int().positive().default(10_000).describe('Most rows a query answers.'),
        queryTimeout: duration.default('10s').describe('Longest a query may run.'),
        maxLiveStreams: z
          .number()
          .int()
          .positive()
          .default(1000)
          .describe('Live view streams (SSE) open at once.'),
        pgPort: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .nullable()
          .default(5433)
          .describe(
            'Port of the Postgres wire protocol over the views (psql, Grafana, drivers), on http.host; the password is an API key. null turns it off (`--pg-port 0` too).',
          ),
        versions: z
          .object({
            autoPromote: z
              .boolean()
              .default(true)
              .describe(
                'Switch queries to a new version of a view once it has caught up; false: only `kappa views promote`.',
              ),
            maxLag: z
              .number()
              .int()
              .nonnegative()
              .default(0)
              .describe(
                'Caught up: the new version’s pipeline and view have at most this many records left to read.',
              ),
            dropAfter: duration
              .default('10m')
              .describe(
                'How long a version no longer served is kept (for `kappa views rollback`) before its table is dropped.',
              ),
          })
          .strict()
          .prefault({})
          .describe('New versions of a view (`pipeline(name, { version })`): when they take over.'),
      })
      .strict()
      .prefault({})
      .describe('Views: the store, the cache and the query API.'),
  })
  .strict();

export type KappaConfig = z.output<typeof configSchema>;
/** What a config file may say: any field may be left out. */
export type KappaConfigInput = z.input<typeof configSchema>;
