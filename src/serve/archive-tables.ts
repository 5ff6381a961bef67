import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  ArchiveCorruptError,
  type ArchivedFile,
  archivedPartitions,
  readManifest,
} from '../archive/index.ts';
import { ConnectionPool } from '../core/index.ts';
import { ObjectNotFoundError, type ObjectStore } from '../storage/index.ts';
import { readOnlyQuery } from './duckdb-query.ts';
import { ViewStoreError } from './view-errors.ts';
import type { QueryOptions, QueryResult } from './view-store.ts';

export interface ArchiveTablesOptions {
  store: ObjectStore;
  /** The archived topics: each is a table `archive."<topic>"`. */
  topics: string[];
  /** Where archive files are copied to be read (emptied at open). */
  cacheDir: string;
  /** Past this, the files least recently queried leave the cache. Default 1 GiB. */
  maxCacheBytes?: number;
  /** Connections that answer queries. Default 2. */
  readers?: number;
}

/** The columns of an archive table: the record's, with key and value as text too. */
const SELECT = `"partition", "offset", "timestamp", try(decode("key")) AS "key", try(decode("value")) AS "value", "key" AS key_bytes, "value" AS value_bytes, headers`;

/** An archive table with no file yet: the same columns, no rows. */
const EMPTY = `SELECT NULL::INTEGER AS "partition", NULL::BIGINT AS "offset", NULL::TIMESTAMP_MS AS "timestamp", NULL::VARCHAR AS "key", NULL::VARCHAR AS "value", NULL::BLOB AS key_bytes, NULL::BLOB AS value_bytes, NULL::STRUCT("key" VARCHAR, "value" BLOB)[] AS headers WHERE false`;

/** Whether a query reads an archive table (`archive.<topic>`), which only ArchiveTables answers. */
export function readsArchive(sql: string): boolean {
  return /\barchive\s*\.\s*["a-z_]/i.test(sql);
}

/**
 * SQL over the archive: each archived topic is a table `archive."<topic>"` (partition, offset,
 * timestamp, key, value as text where they are UTF-8, key_bytes and value_bytes, headers), read by
 * DuckDB's Parquet reader from the archive's files, for questions over history without a replay.
 *
 * DuckDB's httpfs extension cannot be installed offline, so before a query the files of the topics it
 * names are copied from the object store into a local cache (once: archive files never change), and
 * the topic's table is made anew over the files its manifests list. Queries are read-only as the view
 * store's are, and may read no file but the cache's: external access is off except for the cache
 * folder, and the configuration is locked.
 */
export class ArchiveTables {
  readonly #o: ArchiveTablesOptions;
  readonly #ddl: DuckDBConnection;
  readonly #readers: ConnectionPool<DuckDBConnection>;
  /** Files in the cache, by key, with their size and when a query last used them. */
  readonly #cached = new Map<string, { bytes: number; used: number }>();
  /** Refreshes run one at a time (they share the DDL connection and the cache). */
  #refreshing: Promise<unknown> = Promise.resolve();

  private constructor(o: ArchiveTablesOptions, ddl: DuckDBConnection, readers: DuckDBConnection[]) {
    this.#o = o;
    this.#ddl = ddl;
    this.#readers = new ConnectionPool(readers, () => new ViewStoreError('The archive tables are closed'));
  }

  static async open(options: ArchiveTablesOptions): Promise<ArchiveTables> {
    const dir = path.resolve(options.cacheDir);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:');
    const ddl = await instance.connect();
    await ddl.run(`SET allowed_directories = [${literal(`${dir}${path.sep}`)}]`);
    await ddl.run('SET enable_external_access = false');
    await ddl.run('SET lock_configuration = true');
    await ddl.run('CREATE SCHEMA archive');
    for (const topic of options.topics) await ddl.run(`CREATE VIEW ${table(topic)} AS ${EMPTY}`);
    const readers: DuckDBConnection[] = [];
    for (let i = 0; i < (options.readers ?? 2); i++) readers.push(await instance.connect());
    return new ArchiveTables({ ...options, cacheDir: dir }, ddl, readers);
  }

  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const named = this.#o.topics.filter((t) => sql.includes(t));
    const refreshed = this.#refreshing.then(() => this.#refresh(named));
    this.#refreshing = refreshed.catch(() => {});
    await refreshed;
    return this.#readers.use((c) => readOnlyQuery(c, sql, options));
  }

  async close(): Promise<void> {
    await this.#refreshing;
    await this.#readers.close((c) => c.closeSync());
    this.#ddl.closeSync();
  }

  /** Brings the named topics' files into the cache and their tables up to their manifests. */
  async #refresh(topics: string[]): Promise<void> {
    const now = Date.now();
    const wanted = new Set<string>();
    for (const topic of topics) {
      const files: ArchivedFile[] = [];
      for (const partition of await archivedPartitions(this.#o.store, topic))
        files.push(...((await readManifest(this.#o.store, topic, partition))?.files ?? []));
      for (const file of files) {
        await this.#fetch(file);
        this.#cached.get(file.key)!.used = now;
        wanted.add(file.key);
      }
      const list = files.map((f) => literal(this.#local(f.key))).join(', ');
      await this.#ddl.run(
        `CREATE OR REPLACE VIEW ${table(topic)} AS ${files.length === 0 ? EMPTY : `SELECT ${SELECT} FROM read_parquet([${list}])`}`,
      );
    }
    await this.#evict(wanted);
  }

  /** An archive file into the cache, unless there; its size must be what the manifest says. */
  async #fetch(file: ArchivedFile): Promise<void> {
    if (this.#cached.has(file.key)) return;
    const local = this.#local(file.key);
    let body: Buffer;
    try {
      body = await this.#o.store.get(file.key);
    } catch (error) {
      if (error instanceof ObjectNotFoundError)
        throw new ArchiveCorruptError(file.key, 'named in the manifest but not in the store');
      throw error;
    }
    if (body.length !== file.bytes)
      throw new ArchiveCorruptError(
        file.key,
        `is ${body.length} bytes, the manifest says ${file.bytes} (truncated or replaced)`,
      );
    await mkdir(path.dirname(local), { recursive: true });
    await writeFile(local, body);
    this.#cached.set(file.key, { bytes: body.length, used: 0 });
  }

  /** Past the cache's budget, the files least recently queried go, except those this query needs. */
  async #evict(keep: Set<string>): Promise<void> {
    let total = 0;
    for (const { bytes } of this.#cached.values()) total += bytes;
    const max = this.#o.maxCacheBytes ?? 1024 ** 3;
    const byAge = [...this.#cached].sort((a, b) => a[1].used - b[1].used);
    for (const [key, { bytes }] of byAge) {
      if (total <= max) break;
      if (keep.has(key)) continue;
      // A table over an evicted file is made anew before the next query that names its topic.
      await rm(this.#local(key), { force: true });
      this.#cached.delete(key);
      total -= bytes;
    }
  }

  /** Where a file is cached; a manifest is data, so a key that would lead out of the cache is refused. */
  #local(key: string): string {
    const local = path.join(this.#o.cacheDir, ...key.split('/'));
    const inside = path.relative(this.#o.cacheDir, local);
    if (inside.startsWith('..') || path.isAbsolute(inside) || !key.endsWith('.parquet'))
      throw new ArchiveCorruptError(key, 'is not an archive file name');
    return local;
  }
}

function table(topic: string): string {
  return `archive."${topic.replaceAll('"', '""')}"`;
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
