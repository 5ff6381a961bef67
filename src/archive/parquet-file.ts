import { Worker } from 'node:worker_threads';
import type { ConsumedRecord } from '../core/index.ts';
import { ArchiveCorruptError, ArchiveFormatError } from './archive-errors.ts';
import { readArchiveFile } from './parquet-decode.ts';
import { packColumns } from './record-pack.ts';

/**
 * Archive files as Parquet: written on worker threads (parquet-encode.ts), read back on the
 * caller's thread (parquet-decode.ts). Each file carries the archive format in its key-value
 * metadata, so a file of a newer format is refused, not misread.
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
   * The records of an archive file's bytes, in offset order; `key` names it in errors (a file of
   * a newer format is ArchiveFormatError, a damaged one ArchiveCorruptError).
   */
  async read(key: string, body: Buffer): Promise<ConsumedRecord[]> {
    let records: ConsumedRecord[];
    try {
      records = await readArchiveFile(key, body);
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
