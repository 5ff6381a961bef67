import { type Database, open, type RootDatabase } from 'lmdb';
import { OverlayStore } from './overlay-store.ts';
import { StateStoreError } from './state-errors.ts';
import type { StateStore, StoreChange, StoreEntry, StoreMeta } from './state-store.ts';
import type { StoreBackend } from './store-backend.ts';

type BinaryDb = Database<Buffer, Buffer>;

/** One step's entries in its own lmdb database of the task's environment, its meta in the shared `meta` one. */
class LmdbBackend implements StoreBackend {
  readonly #env: RootDatabase<Buffer, Buffer>;
  readonly #db: BinaryDb;
  readonly #metaDb: Database<string, string>;
  readonly #name: string;
  readonly #onClose: () => Promise<void>;

  constructor(
    env: RootDatabase<Buffer, Buffer>,
    metaDb: Database<string, string>,
    name: string,
    onClose: () => Promise<void>,
  ) {
    this.#env = env;
    this.#metaDb = metaDb;
    this.#name = name;
    this.#onClose = onClose;
    this.#db = env.openDB<Buffer, Buffer>({
      name: `state:${name}`,
      keyEncoding: 'binary',
      encoding: 'binary',
    });
  }

  get(key: Buffer): Buffer | undefined {
    return this.#db.get(key);
  }

  *range(from: Buffer | undefined, to: Buffer | undefined): Iterable<StoreEntry> {
    const options: { start?: Buffer; end?: Buffer } = {};
    if (from !== undefined) options.start = from;
    if (to !== undefined) options.end = to;
    for (const { key, value } of this.#db.getRange(options)) yield [key, value];
  }

  async write(changes: readonly StoreChange[], meta: StoreMeta): Promise<void> {
    // Writes queued in one event turn are one lmdb transaction (lmdb-js' event-turn batching, never
    // split here since nothing uses transactionSync), written on lmdb's own thread: the entries and
    // the offsets they reach land together or not at all, and the main thread only queues them.
    for (const [key, value] of changes) {
      if (value === null) void this.#db.remove(key);
      else void this.#db.put(key, value);
    }
    await this.#metaDb.put(this.#name, JSON.stringify(meta));
  }

  meta(): StoreMeta | null {
    return readMeta(this.#metaDb, this.#name);
  }

  async clear(): Promise<void> {
    await this.#env.transaction(() => {
      this.#db.clearSync();
      this.#metaDb.remove(this.#name);
    });
  }

  close(): Promise<void> {
    return this.#onClose();
  }
}

/**
 * The lmdb environment of one task (pipeline, stage, partition): one file under the data folder
 * when the path ends in `.mdb` (a folder otherwise), one database per stateful step. lmdb (lmdb-js) reads synchronously from a memory map, so a window
 * operator's lookups cost no await; writes commit on lmdb's own thread (see DESIGN.md for what was
 * measured against RocksDB and SQLite).
 */
export class LmdbTaskState {
  readonly dir: string;
  readonly #env: RootDatabase<Buffer, Buffer>;
  readonly #meta: Database<string, string>;
  #open = 0;
  #closed: Promise<void> | null = null;

  private constructor(dir: string, env: RootDatabase<Buffer, Buffer>) {
    this.dir = dir;
    this.#env = env;
    this.#meta = env.openDB<string, string>({
      name: 'meta',
      keyEncoding: 'ordered-binary',
      encoding: 'string',
    });
  }

  static open(dir: string): LmdbTaskState {
    try {
      // No map size given: lmdb-js grows the map as the data grows.
      const env = open<Buffer, Buffer>({ path: dir, maxDbs: 64, keyEncoding: 'binary', encoding: 'binary' });
      return new LmdbTaskState(dir, env);
    } catch (error) {
      throw new StateStoreError(`Cannot open the state store in ${dir}`, error);
    }
  }

  /** The store of one step; closing every store closes the environment. */
  store(step: string): StateStore {
    this.#open++;
    return new OverlayStore(
      new LmdbBackend(this.#env, this.#meta, step, async () => {
        if (--this.#open === 0) await this.close();
      }),
    );
  }

  /** A step's meta, without opening its store. */
  meta(step: string): StoreMeta | null {
    return readMeta(this.#meta, step);
  }

  /** A compact, consistent copy of the environment (a checkpoint), taken while it is in use. */
  backup(path: string): Promise<void> {
    return this.#env.backup(path, true);
  }

  close(): Promise<void> {
    this.#closed ??= this.#env.close();
    return this.#closed;
  }
}

function readMeta(db: Database<string, string>, step: string): StoreMeta | null {
  const text = db.get(step);
  if (text === undefined) return null;
  const meta = JSON.parse(text) as Partial<StoreMeta>;
  if (typeof meta.changelogOffset !== 'number' || typeof meta.inputOffset !== 'number') return null;
  return { changelogOffset: meta.changelogOffset, inputOffset: meta.inputOffset };
}
