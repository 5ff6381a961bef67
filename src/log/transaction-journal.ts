import { closeSync, fdatasync, openSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { ensureDir, fsyncDir, writeAllAtSync } from './file-io.ts';

const datasync = promisify(fdatasync);

/** One partition's share of a transaction: the batch and the offset it was given. */
export interface JournalPart {
  topic: string;
  partition: number;
  baseOffset: number;
  batch: Buffer;
}

export interface PreparedTransaction {
  transactionId: number;
  parts: JournalPart[];
}

const PREPARE = 1;
const DONE = 2;
const ENTRY_HEADER_BYTES = 4 + 4 + 1 + 8;
/** Past this size, new entries go to a new file; a full file is deleted once its transactions are done. */
export const DEFAULT_JOURNAL_ROTATE_BYTES = 64 * 1024 * 1024;

/** One file of the journal, with the fsync its writers share. */
class JournalFile {
  readonly file: string;
  readonly fd: number;
  size: number;
  /** Transactions prepared here and not done yet. */
  inFlight = 0;
  #syncing: Promise<void> | null = null;
  #syncQueued: Promise<void> | null = null;

  constructor(file: string, fd: number, size: number) {
    this.file = file;
    this.fd = fd;
    this.size = size;
  }

  write(type: number, transactionId: number, payload: Buffer[]): void {
    const head = Buffer.allocUnsafe(ENTRY_HEADER_BYTES);
    let length = 9;
    for (const chunk of payload) length += chunk.length;
    head.writeUInt32LE(length, 0);
    head.writeUInt8(type, 8);
    head.writeDoubleLE(transactionId, 9);
    let crc = crc32(head.subarray(8));
    for (const chunk of payload) crc = crc32(chunk, crc);
    head.writeUInt32LE(crc, 4);
    this.size += writeAllAtSync(this.fd, [head, ...payload], this.size);
  }

  /**
   * One fsync for every entry written before it starts (group commit): a caller joins the fsync that
   * has not started yet, or queues one behind the one running, which may have begun before its write.
   */
  sync(before: Promise<void>): Promise<void> {
    if (this.#syncQueued) return this.#syncQueued;
    const queued = Promise.all([this.#syncing, before])
      .catch(() => {})
      .then(async () => {
        this.#syncQueued = null;
        const run = datasync(this.fd);
        this.#syncing = run;
        try {
          await run;
        } finally {
          if (this.#syncing === run) this.#syncing = null;
        }
      });
    this.#syncQueued = queued;
    return queued;
  }

  async settle(): Promise<void> {
    while (this.#syncQueued ?? this.#syncing) await (this.#syncQueued ?? this.#syncing)!.catch(() => {});
  }
}

/**
 * The write-ahead journal that makes a transaction's commit atomic across partitions. A commit first
 * writes every batch of the transaction here, fsynced (PREPARE); only then may the batches reach their
 * partitions; when all have (and, for journaled batches, once they are on disk), a DONE entry follows.
 * On open, a PREPARE without its DONE is rolled forward: each partition that lacks its batch gets it.
 * So a crash at any point leaves a transaction either nowhere (PREPARE not durable: no partition was
 * written) or everywhere (after recovery).
 *
 * Files `journal-<n>`, written in order; past its rotation size (64 MiB) the next entries go to a new file, and a
 * file none of whose transactions is in flight is deleted. Writes are synchronous (a copy into the page
 * cache, as the log's appends are); concurrent durable prepares share one fsync.
 *
 * Entry: length u32 (of what follows the CRC) · crc u32 · type u8 · transactionId f64 · payload.
 * PREPARE payload: parts u16, then per part: topic length u16 · topic · partition u32 · baseOffset f64 ·
 * batch length u32 · batch.
 */
export class TransactionJournal {
  readonly #dir: string;
  readonly #files: JournalFile[] = [];
  readonly #fileOf = new Map<number, JournalFile>();
  #generation: number;
  readonly #rotateBytes: number;
  /** The fsync of the folder after a new file appears: entries in it are durable only after that. */
  #dirSynced: Promise<void> = Promise.resolve();

  private constructor(dir: string, generation: number, rotateBytes: number) {
    this.#dir = dir;
    this.#generation = generation;
    this.#rotateBytes = rotateBytes;
  }

  /** Opens the journal and returns the transactions whose commit did not finish. */
  static async open(
    dir: string,
    rotateBytes = DEFAULT_JOURNAL_ROTATE_BYTES,
  ): Promise<{ journal: TransactionJournal; unfinished: PreparedTransaction[] }> {
    await ensureDir(dir);
    // `journal` is the single file of data folders written before generations.
    const names = (await readdir(dir))
      .filter((n) => n === 'journal' || /^journal-\d+$/.test(n))
      .sort((a, b) => generationOf(a) - generationOf(b));
    const prepared = new Map<number, PreparedTransaction>();
    for (const name of names) {
      const data = await readFile(path.join(dir, name));
      let at = 0;
      while (at + ENTRY_HEADER_BYTES <= data.length) {
        const length = data.readUInt32LE(at);
        const end = at + 8 + length;
        if (
          length < 9 ||
          end > data.length ||
          crc32(data.subarray(at + 8, end)) !== data.readUInt32LE(at + 4)
        )
          break; // a torn last entry was never acknowledged
        const type = data.readUInt8(at + 8);
        const transactionId = data.readDoubleLE(at + 9);
        if (type === PREPARE)
          prepared.set(transactionId, { transactionId, parts: decodeParts(data, at + 17) });
        else if (type === DONE) prepared.delete(transactionId);
        at = end;
      }
    }
    const last = names.length === 0 ? 0 : generationOf(names[names.length - 1]!);
    const journal = new TransactionJournal(dir, last, rotateBytes);
    // The old files stay until recovery has rolled their transactions forward (reset()).
    for (const name of names) journal.#files.push(new JournalFile(path.join(dir, name), -1, 0));
    await journal.#rotate();
    return { journal, unfinished: [...prepared.values()] };
  }

  /**
   * Records a transaction's batches; resolves once they survive a process crash, and with `durable`
   * a machine crash too.
   */
  async prepare(transaction: PreparedTransaction, durable = true): Promise<void> {
    let file = this.#files[this.#files.length - 1]!;
    if (file.size > this.#rotateBytes) file = this.#rotateNow();
    file.inFlight++;
    this.#fileOf.set(transaction.transactionId, file);
    file.write(PREPARE, transaction.transactionId, encodeParts(transaction.parts));
    if (durable) await file.sync(this.#dirSynced);
  }

  /** Marks a transaction applied everywhere. Not fsynced: a lost DONE only means recovery checks again. */
  async done(transactionId: number): Promise<void> {
    const file = this.#fileOf.get(transactionId);
    if (!file) return;
    this.#fileOf.delete(transactionId);
    file.write(DONE, transactionId, []);
    file.inFlight--;
    if (file.inFlight === 0 && file !== this.#files[this.#files.length - 1]) await this.#drop(file);
  }

  /** After recovery rolled everything forward: the files it read go, the new one stays. */
  async reset(): Promise<void> {
    for (const file of this.#files.slice(0, -1)) await this.#drop(file);
  }

  async close(): Promise<void> {
    for (const file of this.#files) {
      await file.settle();
      if (file.fd >= 0) closeSync(file.fd);
    }
  }

  /** How many files the journal has now (tests check it stays bounded). */
  get fileCount(): number {
    return this.#files.length;
  }

  /** A new, empty file for new entries. */
  #rotateNow(): JournalFile {
    this.#generation++;
    const file = path.join(this.#dir, `journal-${this.#generation}`);
    const journalFile = new JournalFile(file, openSync(file, 'w'), 0);
    this.#files.push(journalFile);
    this.#dirSynced = fsyncDir(this.#dir);
    return journalFile;
  }

  async #rotate(): Promise<void> {
    this.#rotateNow();
    await this.#dirSynced;
  }

  async #drop(file: JournalFile): Promise<void> {
    this.#files.splice(this.#files.indexOf(file), 1);
    await file.settle();
    if (file.fd >= 0) closeSync(file.fd);
    await rm(file.file, { force: true });
  }
}

function generationOf(name: string): number {
  return name === 'journal' ? -1 : Number(name.slice('journal-'.length));
}

function encodeParts(parts: JournalPart[]): Buffer[] {
  const chunks: Buffer[] = [];
  const count = Buffer.allocUnsafe(2);
  count.writeUInt16LE(parts.length, 0);
  chunks.push(count);
  for (const part of parts) {
    const topic = Buffer.from(part.topic, 'utf8');
    const head = Buffer.allocUnsafe(2 + topic.length + 4 + 8 + 4);
    head.writeUInt16LE(topic.length, 0);
    topic.copy(head, 2);
    head.writeUInt32LE(part.partition, 2 + topic.length);
    head.writeDoubleLE(part.baseOffset, 6 + topic.length);
    head.writeUInt32LE(part.batch.length, 14 + topic.length);
    chunks.push(head, part.batch);
  }
  return chunks;
}

function decodeParts(data: Buffer, at: number): JournalPart[] {
  const parts: JournalPart[] = [];
  const count = data.readUInt16LE(at);
  let p = at + 2;
  for (let i = 0; i < count; i++) {
    const topicLength = data.readUInt16LE(p);
    const topic = data.toString('utf8', p + 2, p + 2 + topicLength);
    p += 2 + topicLength;
    const partition = data.readUInt32LE(p);
    const baseOffset = data.readDoubleLE(p + 4);
    const batchLength = data.readUInt32LE(p + 12);
    const batch = Buffer.from(data.subarray(p + 16, p + 16 + batchLength));
    p += 16 + batchLength;
    parts.push({ topic, partition, baseOffset, batch });
  }
  return parts;
}
