import { closeSync, fdatasync, ftruncate, openSync } from 'node:fs';
import { promisify } from 'node:util';

const datasync = promisify(fdatasync);
const truncate = promisify(ftruncate);

/** A file that takes a descriptor from the pool; segments are. */
export interface PooledFile {
  readonly file: string;
}

/**
 * The open segment files of one log, at most `max` at a time, least recently used closed first. A
 * topic of 10,000 partitions must not hold 10,000 descriptors for its lifetime: the process would run
 * out, and then out of sockets too. Reads and appends are synchronous, so a descriptor handed to them
 * cannot be closed under them; async work (fsync, truncate) pins its descriptor until it is done.
 * Written by hand: the npm file-descriptor pools are for async streams, not synchronous positional I/O.
 */
export class FileHandles {
  readonly max: number;
  /** Insertion order is recency: the first entry is the least recently used. */
  readonly #open = new Map<PooledFile, number>();
  readonly #pins = new Map<PooledFile, number>();
  readonly #closeWhenUnpinned = new Set<PooledFile>();
  #last: PooledFile | null = null;
  #pinnedCount = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(max: number) {
    this.max = Math.max(1, max);
  }

  get openCount(): number {
    return this.#open.size;
  }

  /** Creates (or truncates) the file and keeps its descriptor. */
  create(owner: PooledFile): void {
    this.#remember(owner, openSync(owner.file, 'w+'));
  }

  /** The file's descriptor, opened if it was closed. Use it before the next await. */
  fd(owner: PooledFile): number {
    const fd = this.#open.get(owner);
    if (fd === undefined) return this.#remember(owner, openSync(owner.file, 'r+'));
    if (this.#last !== owner) {
      this.#open.delete(owner);
      this.#open.set(owner, fd);
      this.#last = owner;
    }
    return fd;
  }

  async sync(owner: PooledFile): Promise<void> {
    await this.#pinned(owner, (fd) => datasync(fd));
  }

  async truncate(owner: PooledFile, length: number): Promise<void> {
    await this.#pinned(owner, (fd) => truncate(fd, length));
  }

  /** Closes the file's descriptor now, or when the async work holding it ends. */
  close(owner: PooledFile): void {
    if (this.#pins.has(owner)) {
      this.#closeWhenUnpinned.add(owner);
      return;
    }
    const fd = this.#open.get(owner);
    if (fd === undefined) return;
    this.#open.delete(owner);
    if (this.#last === owner) this.#last = null;
    closeSync(fd);
  }

  async #pinned<T>(owner: PooledFile, work: (fd: number) => Promise<T>): Promise<T> {
    // Pinned descriptors cannot be closed, so at most half the pool is pinned at once: a flush that
    // syncs 10,000 partitions waits its turn rather than opening 10,000 files.
    while (this.#pinnedCount >= Math.max(1, this.max >> 1))
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#pinnedCount++;
    let fd: number;
    try {
      fd = this.fd(owner);
    } catch (error) {
      this.#unpinSlot();
      throw error;
    }
    this.#pins.set(owner, (this.#pins.get(owner) ?? 0) + 1);
    try {
      return await work(fd);
    } finally {
      this.#unpinSlot();
      const left = this.#pins.get(owner)! - 1;
      if (left > 0) this.#pins.set(owner, left);
      else {
        this.#pins.delete(owner);
        if (this.#closeWhenUnpinned.delete(owner)) this.close(owner);
        this.#evict();
      }
    }
  }

  #unpinSlot(): void {
    this.#pinnedCount--;
    this.#waiting.shift()?.();
  }

  #remember(owner: PooledFile, fd: number): number {
    this.#open.set(owner, fd);
    this.#last = owner;
    this.#evict();
    return fd;
  }

  #evict(): void {
    if (this.#open.size <= this.max) return;
    for (const [owner, fd] of this.#open) {
      if (this.#open.size <= this.max) return;
      if (owner === this.#last || this.#pins.has(owner)) continue;
      this.#open.delete(owner);
      closeSync(fd);
    }
  }
}
