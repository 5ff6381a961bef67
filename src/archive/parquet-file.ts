import { Worker } from 'node:worker_threads';
import { zstdDecompressSync } from 'node:zlib';
import { type FileMetaData, parquetMetadata, parquetRead } from 'hyparquet';
import type { ConsumedRecord } from '../core/index.ts';
import { ArchiveCorruptError, ArchiveFormatError } from './archive-errors.ts';
import { checkFormat } from './manifest.ts';
import { decodeOwnFile } from './parquet-decode.ts';
import { packColumns } from './record-pack.ts';

const COLUMN_NAMES = ['partition', 'offset', 'timestamp', 'key', 'value', 'headers'];

/**
 * Archive files as Parquet: written on worker threads (parquet-encode.ts), read back by hyparquet.
 * Each file carries the archive format in its key-value metadata, so a file of a newer format is
 * refused, not misread.
 */
export class ParquetFiles {
  readonly #writers: Writers;

  /** `writers`: files encoded at once (encoding is CPU-bound: more than the machine's cores only adds contention). */
  constructor(writers = 2) {
    this.#writers = new Writers(writers);
  }

  /** The records (of one partition, in offset order) as one Parquet file's bytes, encoded on a worker thread. */
  write(records: readonly ConsumedRecord[]): Promise<Buffer> {
    return this.#writers.run(packColumns(records));
  }

  /**
   * The records of an archive file's bytes, in offset order; `key` names it in errors. A file this
   * Kappa wrote is read by parquet-decode.ts, any other (an older Kappa's) by hyparquet.
   */
  async read(key: string, body: Buffer): Promise<ConsumedRecord[]> {
    const topic = key.split('/')[0]!;
    let records: ConsumedRecord[];
    try {
      // No GeoParquet: hyparquet's marking of geo columns loops forever on a damaged schema (a
      // negative child count), and an archive has none.
      const meta = parquetMetadata(body, { geoparquet: false });
      const format = Number(meta.key_value_metadata?.find((kv) => kv.key === 'kappa_archive_format')?.value);
      if (!Number.isInteger(format) || format < 1)
        throw new ArchiveFormatError(key, 'not a Kappa archive file');
      checkFormat(key, format);
      const names = meta.schema.slice(1).map((s) => s.name);
      if (COLUMN_NAMES.some((c, i) => names[i] !== c))
        throw new ArchiveCorruptError(key, `has columns ${names.join(', ')}, not ${COLUMN_NAMES.join(', ')}`);
      records = decodeOwnFile(topic, body, meta, unzstd) ?? (await readAnyFile(topic, body, meta));
    } catch (error) {
      if (error instanceof ArchiveFormatError || error instanceof ArchiveCorruptError) throw error;
      throw new ArchiveCorruptError(key, (error as Error).message, { cause: error });
    }
    // A file is written in offset order; one that is not is damaged.
    for (let i = 1; i < records.length; i++)
      if (!(records[i]!.offset > records[i - 1]!.offset))
        throw new ArchiveCorruptError(key, `offsets out of order at row ${i}`);
    return records;
  }

  async close(): Promise<void> {
    await this.#writers.close();
  }
}

/**
 * A file's records by hyparquet, a Parquet reader in JavaScript, and Node's own zstd: any layout,
 * values as views of the decompressed pages.
 */
async function readAnyFile(topic: string, body: Buffer, meta: FileMetaData): Promise<ConsumedRecord[]> {
  // hyparquet copies out each column chunk it reads: the file itself needs no copy.
  const file = {
    byteLength: body.length,
    slice: (start: number, end = body.length) =>
      body.buffer.slice(body.byteOffset + start, body.byteOffset + end) as ArrayBuffer,
  };
  // Most records have no headers: when no row group holds one (every list entry is null in the
  // statistics), the column is not read at all, as assembling empty lists costs as much as the rest.
  const withHeaders = meta.row_groups.some((g) =>
    g.columns.some((c) => {
      const m = c.meta_data;
      return (
        m?.path_in_schema.join('.') === 'headers.list.element.key' &&
        Number(m.statistics?.null_count ?? -1) !== Number(m.num_values)
      );
    }),
  );
  const columns = new Map<string, unknown[]>(COLUMN_NAMES.map((c) => [c, []]));
  // Column by column (onChunk), not row by row: transposing into row arrays costs as much as decoding.
  await parquetRead({
    file,
    metadata: meta,
    ...(withHeaders ? {} : { columns: COLUMN_NAMES.slice(0, 5) }),
    compressors: { ZSTD: unzstd },
    utf8: false,
    parsers: { timestampFromMilliseconds: Number },
    onChunk: ({ columnName, columnData, rowStart }) => {
      const column = columns.get(columnName);
      if (!column) return;
      for (let i = 0; i < columnData.length; i++) column[rowStart + i] = columnData[i];
    },
  });
  const [partitions, offsets, timestamps, keys, values, headers] = COLUMN_NAMES.map((c) => columns.get(c)!);
  const rows = Number(meta.num_rows);
  const records = new Array<ConsumedRecord>(rows);
  for (let i = 0; i < rows; i++) {
    const record: ConsumedRecord = {
      topic,
      partition: partitions![i] as number,
      offset: Number(offsets![i] as bigint),
      timestamp: timestamps![i] as number,
      key: view(keys![i] as Uint8Array | null),
      value: view(values![i] as Uint8Array | null),
      headers: {},
    };
    const list = headers![i] as
      | Array<{ key: string | Uint8Array; value: Uint8Array | null }>
      | null
      | undefined;
    for (const h of list ?? [])
      record.headers[typeof h.key === 'string' ? h.key : Buffer.from(h.key).toString()] =
        view(h.value) ?? Buffer.alloc(0);
    records[i] = record;
  }
  return records;
}

interface Job {
  records: ArrayBuffer;
  resolve: (body: Buffer) => void;
  reject: (error: Error) => void;
}

/**
 * Worker threads that encode files, one job each at a time, started while jobs wait, one at a time
 * up to `size`; each takes jobs once it is ready.
 * A worker that dies fails its job (the archiver tries the file again next round) and is replaced.
 */
class Writers {
  readonly #size: number;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Job>();
  readonly #starting = new Set<Worker>();
  readonly #queue: Job[] = [];
  #closed = false;

  constructor(size: number) {
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
    const worker = new Worker(new URL(entry, import.meta.url));
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
