import { mkdir } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { zstdDecompressSync } from 'node:zlib';
import { parquetMetadata, parquetRead } from 'hyparquet';
import type { ConsumedRecord } from '../core/index.ts';
import { ArchiveCorruptError, ArchiveFormatError } from './archive-errors.ts';
import { checkFormat } from './manifest.ts';
import { packRecords } from './record-pack.ts';

const COLUMN_NAMES = ['partition', 'offset', 'timestamp', 'key', 'value', 'headers'];

/**
 * Archive files as Parquet: encoded by DuckDB (`COPY … (FORMAT parquet, COMPRESSION zstd)`) on
 * worker threads, read back by hyparquet; no hand-written Parquet. Each file carries the archive
 * format in its key-value metadata, so a file of a newer format is refused, not misread.
 */
export class ParquetFiles {
  readonly #writers: Writers;

  private constructor(writers: Writers) {
    this.#writers = writers;
  }

  /**
   * `dir`: a folder for files on their way to the store; `writers`: files encoded at once (DuckDB's
   * encoding is CPU-bound: more than the machine's cores only adds contention).
   */
  static async open(dir: string, writers = 2): Promise<ParquetFiles> {
    await mkdir(dir, { recursive: true });
    return new ParquetFiles(new Writers(dir, writers));
  }

  /** The records (of one partition, in offset order) as one Parquet file's bytes, encoded on a worker thread. */
  write(records: readonly ConsumedRecord[]): Promise<Buffer> {
    return this.#writers.run(packRecords(records));
  }

  /**
   * The records of an archive file's bytes, in offset order; `key` names it in errors. Read with
   * hyparquet, a Parquet reader in JavaScript, and Node's own zstd: it hands values over as views of
   * the decompressed pages, five times faster than taking them out of DuckDB's vectors one by one
   * (bench/archive.ts), and needs no temporary file.
   */
  async read(key: string, body: Buffer): Promise<ConsumedRecord[]> {
    const topic = key.split('/')[0]!;
    const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer;
    let rows: unknown[][] = [];
    try {
      const meta = parquetMetadata(file);
      const format = Number(meta.key_value_metadata?.find((kv) => kv.key === 'kappa_archive_format')?.value);
      if (!Number.isInteger(format) || format < 1)
        throw new ArchiveFormatError(key, 'not a Kappa archive file');
      checkFormat(key, format);
      const names = meta.schema.slice(1).map((s) => s.name);
      if (COLUMN_NAMES.some((c, i) => names[i] !== c))
        throw new ArchiveCorruptError(key, `has columns ${names.join(', ')}, not ${COLUMN_NAMES.join(', ')}`);
      // Most records have no headers: when no row group holds one (every list entry is null in the
      // statistics), the column is not read at all, as assembling empty lists costs as much as the rest.
      const headers = meta.row_groups.some((g) =>
        g.columns.some((c) => {
          const m = c.meta_data;
          return (
            m?.path_in_schema.join('.') === 'headers.list.element.key' &&
            Number(m.statistics?.null_count ?? -1) !== Number(m.num_values)
          );
        }),
      );
      await parquetRead({
        file,
        metadata: meta,
        ...(headers ? {} : { columns: COLUMN_NAMES.slice(0, 5) }),
        compressors: { ZSTD: unzstd },
        utf8: false,
        rowFormat: 'array',
        onComplete: (data) => {
          rows = data as unknown[][];
        },
      });
    } catch (error) {
      if (error instanceof ArchiveFormatError || error instanceof ArchiveCorruptError) throw error;
      throw new ArchiveCorruptError(key, (error as Error).message, { cause: error });
    }
    const records = new Array<ConsumedRecord>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [partition, offset, timestamp, k, v, headers] = rows[i] as [
        number,
        bigint,
        Date,
        Uint8Array | null,
        Uint8Array | null,
        Array<{ key: string | Uint8Array; value: Uint8Array | null }> | null,
      ];
      const record: ConsumedRecord = {
        topic,
        partition,
        offset: Number(offset),
        timestamp: timestamp.getTime(),
        key: view(k),
        value: view(v),
        headers: {},
      };
      for (const h of headers ?? [])
        record.headers[typeof h.key === 'string' ? h.key : Buffer.from(h.key).toString()] =
          view(h.value) ?? Buffer.alloc(0);
      // A file is written in offset order; one that is not is damaged.
      if (i > 0 && record.offset <= records[i - 1]!.offset)
        throw new ArchiveCorruptError(key, `offsets out of order at row ${i}`);
      records[i] = record;
    }
    return records;
  }

  async close(): Promise<void> {
    await this.#writers.close();
  }
}

interface Job {
  records: ArrayBuffer;
  resolve: (body: Buffer) => void;
  reject: (error: Error) => void;
}

/**
 * Worker threads that encode files, one job each at a time, started while jobs wait (loading DuckDB
 * takes a few hundred ms), one at a time up to `size`; each takes jobs once it is ready.
 * A worker that dies fails its job (the archiver tries the file again next round) and is replaced.
 */
class Writers {
  readonly #dir: string;
  readonly #size: number;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Job>();
  readonly #starting = new Set<Worker>();
  readonly #queue: Job[] = [];
  #closed = false;

  constructor(dir: string, size: number) {
    this.#dir = dir;
    this.#size = size;
  }

  run(records: ArrayBuffer): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new Error('The Parquet writers are closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ records, resolve, reject });
      // A job waiting keeps the process alive, also while its worker is still starting.
      for (const worker of this.#starting) worker.ref();
      this.#next();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(new Error('The Parquet writers are closed'));
    await Promise.all([...this.#idle, ...this.#starting, ...this.#busy.keys()].map((w) => w.terminate()));
  }

  #next(): void {
    while (this.#queue.length > 0) {
      const worker = this.#idle.pop();
      if (!worker) {
        const workers = this.#idle.length + this.#starting.size + this.#busy.size;
        if (this.#starting.size === 0 && workers < this.#size) this.#start();
        return;
      }
      const job = this.#queue.shift()!;
      this.#busy.set(worker, job);
      worker.ref();
      worker.postMessage(job.records, [job.records]);
    }
  }

  #start(): Worker {
    // The sources in a checkout (Node strips the types), the build in a package.
    const entry = `./parquet-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`;
    const worker = new Worker(new URL(entry, import.meta.url), {
      workerData: { dir: this.#dir },
    });
    this.#starting.add(worker);
    worker.unref();
    worker.on('message', (message: { ready?: true; body?: ArrayBuffer; error?: string }) => {
      if (message.ready) {
        this.#starting.delete(worker);
        this.#idle.push(worker);
        worker.unref();
        this.#next();
        return;
      }
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      this.#idle.push(worker);
      // An idle worker does not keep the process alive.
      worker.unref();
      if (message.error !== undefined) job?.reject(new Error(`Parquet encoding failed: ${message.error}`));
      else job?.resolve(Buffer.from(message.body!));
      this.#next();
    });
    const died = (error: Error) => {
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      this.#starting.delete(worker);
      const idle = this.#idle.indexOf(worker);
      if (idle >= 0) this.#idle.splice(idle, 1);
      job?.reject(error);
      if (!this.#closed) this.#next();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`a Parquet worker exited with code ${code}`)));
    return worker;
  }
}

/** The largest page a file may claim: a hostile file's page header must not make us allocate gigabytes. */
const MAX_PAGE_BYTES = 256 * 1024 * 1024;

function unzstd(input: Uint8Array, outputLength: number): Uint8Array {
  if (outputLength > MAX_PAGE_BYTES) throw new Error(`a page claims ${outputLength} bytes`);
  // One output chunk of the page's size: the default 16 KiB chunks are concatenated at the end.
  const size = Math.max(outputLength, 64);
  const out = zstdDecompressSync(input, { maxOutputLength: size, chunkSize: size });
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Bytes of a page as a Buffer without a copy (it keeps the page alive while the record lives). */
function view(b: Uint8Array | null | undefined): Buffer | null {
  return b === null || b === undefined ? null : Buffer.from(b.buffer, b.byteOffset, b.length);
}
