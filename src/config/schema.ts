import { z } from 'zod';
import { COMPATIBILITY_LEVELS } from '../registry/index.ts';

const duration = z.union([z.number().nonnegative(), z.string().min(1)]);
const fsync = z.union([z.literal('batch'), z.literal('never'), duration]);

/** TLS to the brokers: `true` trusts the system's CAs; files are read when Kappa starts. */
const tls = z.union([
  z.boolean(),
  z
    .object({
      /** PEM text of the CA that signed the brokers' certificates, or a path to it in `caFile`. */
      ca: z.string().min(1).optional(),
      caFile: z.string().min(1).optional(),
      /** Client certificate and key (mutual TLS), as PEM text or paths. */
      cert: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      /** Name to check the certificate against when it differs from the broker address. */
      servername: z.string().min(1).optional(),
      /** Default true. false accepts any certificate: for a laptop against a test cluster only. */
      rejectUnauthorized: z.boolean().optional(),
    })
    .strict(),
]);

const kafkaBus = z
  .object({
    kind: z.literal('kafka'),
    /** `host:port` of one or more brokers; the client finds the rest. */
    brokers: z.array(z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'a broker is host:port')).min(1),
    clientId: z.string().min(1).default('kappa'),
    tls: tls.optional(),
    sasl: z
      .object({
        mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
        username: z.string().min(1),
        password: z.string(),
      })
      .strict()
      .optional(),
    /** Compression of produced batches. */
    compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'),
    /** Replicas of topics Kappa creates; -1 lets the broker decide (default.replication.factor). */
    replicationFactor: z.number().int().min(-1).max(32).default(-1),
    /** Largest record (key + value + headers) accepted before sending; fits the broker's default max.message.bytes. */
    maxRecordBytes: z.number().int().positive().default(1_000_000),
    /** Largest batch for one partition in one request: bigger sends are split. Keep it under max.message.bytes. */
    maxBatchBytes: z.number().int().positive().default(1_000_000),
    /** Request timeout, also the transaction timeout. */
    timeoutMs: z.number().int().positive().default(5000),
    retries: z.number().int().min(0).max(100).default(5),
  })
  .strict();

/**
 * The Kappa config. Every field has a default, and the defaults give the embedded shape: `kappa up`
 * with no config file runs everything in one process on ./data.
 */
export const configSchema = z
  .object({
    /** Where the embedded log keeps its data. */
    dataDir: z.string().min(1).default('./data'),
    http: z
      .object({
        /** 127.0.0.1 by default, so a laptop's Kappa is not open to its network until asked. */
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Largest request body. Default 16 MiB. */
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 * 1024),
        /** Most records in one produce request. */
        maxRecordsPerRequest: z.number().int().positive().default(10_000),
      })
      .strict()
      .prefault({}),
    /** The log everything runs on: the embedded log (default) or a Kafka cluster. */
    bus: z
      .discriminatedUnion('kind', [z.object({ kind: z.literal('embedded') }).strict(), kafkaBus])
      .prefault({ kind: 'embedded' }),
    log: z
      .object({
        /** Largest record (key + value + headers). Default 1 MiB. */
        maxRecordBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
        /** Default fsync policy of new topics: 'batch', 'never', or an interval such as '1s'. */
        fsync: fsync.default('batch'),
        segmentBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 * 1024 * 1024),
        /** How often retention and compaction run. */
        maintenanceInterval: duration.default('30s'),
      })
      .strict()
      .prefault({}),
    registry: z
      .object({
        /** The compacted topic subjects, versions and settings are kept in; `_schemas`, as Confluent's. */
        topic: z.string().min(1).default('_schemas'),
        /** Compatibility level of subjects without their own until one is set through the API. */
        defaultCompatibility: z.enum(COMPATIBILITY_LEVELS).default('BACKWARD'),
        /** Largest schema text accepted. Default 1 MiB. */
        maxSchemaBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
      })
      .strict()
      .prefault({}),
    pipelines: z
      .object({
        /** Where pipeline files are: each exports default a pipeline. Default ./pipelines. */
        dir: z.string().min(1).default('./pipelines'),
        /** Where records that cannot be processed go, with why in their headers. */
        deadLetterTopic: z.string().min(1).default('dead-letters'),
      })
      .strict()
      .prefault({}),
    topics: z
      .object({
        /** Create a topic on first produce instead of answering 404. */
        autoCreate: z.boolean().default(false),
        defaultPartitions: z.number().int().min(1).max(10_000).default(1),
        /**
         * Topics (exact names or `*` patterns) whose values must be written with a schema of
         * `<topic>-value`: produce requests in the json format, or with bytes that are not Confluent
         * wire format of such a schema, are refused with 422.
         */
        requireSchema: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type KappaConfig = z.output<typeof configSchema>;
/** What a config file may say: any field may be left out. */
export type KappaConfigInput = z.input<typeof configSchema>;
