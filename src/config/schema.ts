import { z } from 'zod';

const duration = z.union([z.number().nonnegative(), z.string().min(1)]);
const fsync = z.union([z.literal('batch'), z.literal('never'), duration]);

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
    bus: z
      .object({ kind: z.literal('embedded') })
      .strict()
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
    topics: z
      .object({
        /** Create a topic on first produce instead of answering 404. */
        autoCreate: z.boolean().default(false),
        defaultPartitions: z.number().int().min(1).max(10_000).default(1),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type KappaConfig = z.output<typeof configSchema>;
/** What a config file may say: any field may be left out. */
export type KappaConfigInput = z.input<typeof configSchema>;
