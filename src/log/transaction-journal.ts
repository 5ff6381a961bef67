import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { ensureDir, readAt } from './file-io.ts';

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
/** Past this size, the journal is emptied as soon as no commit is in flight. */
const RESET_BYTES = 64 * 1024 * 1024;

/**
 * The write-ahead journal that makes a transaction's commit atomic across partitions. A commit first
 * writes every batch of the transaction here, fsynced (PREPARE); only then may the batches reach their
 * partitions; when all have, a DONE entry follows. On open, a PREPARE without its DONE is rolled
 * forward: each partition that lacks its batch gets it. So a crash at any point leaves a transaction
 * either nowhere (PREPARE not durable: no partition was written) or everywhere (after recovery).
 *
 * Entry: length u32 (of what follows the CRC) · crc u32 · type u8 · transactionId f64 · payload.
 * PREPARE payload: parts u16, then per part: topic length u16 · topic · partition u32 · baseOffset f64 ·
 * batch length u32 · batch.
 */
export class TransactionJournal {
  readonly #handle: FileHandle;
  #size: number;
  #inFlight = 0;
  #tail: Promise<void> = Promise.resolve();

  private constructor(handle: FileHandle, size: number) {
    this.#handle = handle;
    this.#size = size;
  }

  /** Opens the journal and returns the transactions whose commit did not finish. */
  static async open(
    dir: string,
  ): Promise<{ journal: TransactionJournal; unfinished: PreparedTransaction[] }> {
    await ensureDir(dir);
    const handle = await open(path.join(dir, 'journal'), 'a+');
    const { size } = await handle.stat();
    const data = size === 0 ? Buffer.alloc(0) : readAt(handle.fd, 0, size);
    const prepared = new Map<number, PreparedTransaction>();
    let at = 0;
    while (at + ENTRY_HEADER_BYTES <= data.length) {
      const length = data.readUInt32LE(at);
      const end = at + 8 + length;
      if (length < 9 || end > data.length || crc32(data.subarray(at + 8, end)) !== data.readUInt32LE(at + 4))
        break;
      const type = data.readUInt8(at + 8);
      const transactionId = data.readDoubleLE(at + 9);
      if (type === PREPARE) prepared.set(transactionId, { transactionId, parts: decodeParts(data, at + 17) });
      else if (type === DONE) prepared.delete(transactionId);
      at = end;
    }
    // A torn last entry was never acknowledged: cut it off so later entries follow whole ones.
    if (at < size) await handle.truncate(at);
    return { journal: new TransactionJournal(handle, at), unfinished: [...prepared.values()] };
  }

  /**
   * Records a transaction's batches; resolves once they survive a process crash, and with `durable`
   * a machine crash too.
   */
  prepare(transaction: PreparedTransaction, durable = true): Promise<void> {
    this.#inFlight++;
    return this.#append(PREPARE, transaction.transactionId, encodeParts(transaction.parts), durable);
  }

  /** Marks a transaction applied everywhere. Not fsynced: a lost DONE only means recovery checks again. */
  async done(transactionId: number): Promise<void> {
    await this.#append(DONE, transactionId, Buffer.alloc(0), false);
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#size > RESET_BYTES) {
      await this.#serial(async () => {
        if (this.#inFlight > 0) return;
        await this.#handle.truncate(0);
        await this.#handle.datasync();
        this.#size = 0;
      });
    }
  }

  /** After recovery rolled everything forward, start empty. */
  async reset(): Promise<void> {
    await this.#serial(async () => {
      await this.#handle.truncate(0);
      await this.#handle.datasync();
      this.#size = 0;
    });
  }

  async close(): Promise<void> {
    await this.#tail;
    await this.#handle.close();
  }

  #append(type: number, transactionId: number, payload: Buffer, sync: boolean): Promise<void> {
    const entry = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + payload.length);
    entry.writeUInt32LE(9 + payload.length, 0);
    entry.writeUInt8(type, 8);
    entry.writeDoubleLE(transactionId, 9);
    payload.copy(entry, ENTRY_HEADER_BYTES);
    entry.writeUInt32LE(crc32(entry.subarray(8)), 4);
    return this.#serial(async () => {
      await this.#handle.write(entry, 0, entry.length, this.#size);
      this.#size += entry.length;
      if (sync) await this.#handle.datasync();
    });
  }

  #serial(task: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => {});
    return run;
  }
}

function encodeParts(parts: JournalPart[]): Buffer {
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
  return Buffer.concat(chunks);
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
