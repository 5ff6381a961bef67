import { constants, readSync, writevSync } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** fsync a directory so that files created, renamed or removed in it survive a machine crash. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on directories; their metadata is then the OS's promise to keep.
    if (
      (error as NodeJS.ErrnoException).code !== 'EINVAL' &&
      (error as NodeJS.ErrnoException).code !== 'EISDIR'
    )
      throw error;
  } finally {
    await handle?.close();
  }
}

/** Replaces `file` with `data` atomically: a reader (or a crash) sees the old or the new file, never half of one. */
export async function writeFileAtomic(
  file: string,
  data: string | Buffer,
  durable = true,
  mode?: number,
): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, {
    ...(durable ? { flush: true } : {}),
    ...(mode === undefined ? {} : { mode }),
  });
  await rename(tmp, file);
  if (durable) await fsyncDir(path.dirname(file));
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Reads exactly `length` bytes at `position`, or fewer only at the end of the file. Synchronous, like
 * the appends: consumers read what was just written, which the page cache holds, and a memcpy on the
 * main thread costs less than a thread-pool round trip. (A read of cold data blocks the event loop for
 * as long as the disk takes; reads are bounded to a few hundred KiB at a time for that reason.)
 */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const bytesRead = readSync(fd, buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/**
 * Writes all of `buffers` at `position`, synchronously. A write into the page cache is a memcpy: done
 * on the main thread it costs less than the thread-pool round trip an async write adds, and the
 * appender waits for it either way. fsync, which waits for the disk, stays asynchronous.
 */
export function writeAllAtSync(fd: number, buffers: Buffer[], position: number): number {
  let total = 0;
  for (const b of buffers) total += b.length;
  let written = 0;
  let pending = buffers;
  while (written < total) {
    const bytesWritten = writevSync(fd, pending, position + written);
    written += bytesWritten;
    if (written < total) pending = dropBytes(pending, bytesWritten);
  }
  return total;
}

function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = count;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}
