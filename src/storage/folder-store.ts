import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkKey, checkPrefix } from './object-key.ts';
import type { ObjectStore } from './object-store.ts';
import { ObjectNotFoundError, ObjectStoreError } from './storage-errors.ts';

/** Temporary files of puts in progress: never listed, removed when found at open. */
const TEMP = '.tmp';

/**
 * Objects as files under a folder (the embedded default, `<dataDir>/archive`): a key's `/`s are
 * folders. A put writes a temporary file, fsyncs it and renames it into place, so a crash leaves the
 * old object or the new one, never a part.
 */
export class FolderStore implements ObjectStore {
  readonly kind = 'folder';
  readonly #root: string;

  private constructor(root: string) {
    this.#root = root;
  }

  static async open(root: string): Promise<FolderStore> {
    await mkdir(root, { recursive: true });
    // Leftovers of puts a crash cut short.
    await rm(path.join(root, TEMP), { recursive: true, force: true });
    await mkdir(path.join(root, TEMP), { recursive: true });
    return new FolderStore(root);
  }

  async put(key: string, body: Buffer): Promise<void> {
    checkKey(key);
    const target = path.join(this.#root, key);
    const temp = path.join(this.#root, TEMP, randomUUID());
    try {
      await mkdir(path.dirname(target), { recursive: true });
      const file = await open(temp, 'w');
      try {
        await file.writeFile(body);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, target);
      // The rename is durable once the folder is synced.
      const folder = await open(path.dirname(target), 'r');
      await folder.sync().finally(() => folder.close());
    } catch (error) {
      await rm(temp, { force: true });
      throw new ObjectStoreError(`Cannot write ${key} under ${this.#root}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async get(key: string): Promise<Buffer> {
    checkKey(key);
    try {
      return await readFile(path.join(this.#root, key));
    } catch (error) {
      if (['ENOENT', 'EISDIR', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? ''))
        throw new ObjectNotFoundError(key);
      throw new ObjectStoreError(`Cannot read ${key}: ${(error as Error).message}`, { cause: error });
    }
  }

  async head(key: string): Promise<{ size: number } | null> {
    checkKey(key);
    const s = await stat(path.join(this.#root, key)).catch(() => null);
    return s?.isFile() ? { size: s.size } : null;
  }

  async list(prefix: string): Promise<Array<{ key: string; size: number }>> {
    checkPrefix(prefix);
    const out: Array<{ key: string; size: number }> = [];
    // Only the folders that can hold keys with the prefix are walked.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const walk = async (folder: string): Promise<void> => {
      const entries = await readdir(path.join(this.#root, folder), { withFileTypes: true }).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
          throw new ObjectStoreError(`Cannot list ${folder || '/'}: ${error.message}`, { cause: error });
        },
      );
      for (const e of entries) {
        const key = folder ? `${folder}/${e.name}` : e.name;
        if (key === TEMP) continue;
        if (e.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (e.isFile() && key.startsWith(prefix))
          out.push({ key, size: (await stat(path.join(this.#root, key))).size });
      }
    };
    await walk(base);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await rm(path.join(this.#root, key), { force: true }).catch((error: Error) => {
      throw new ObjectStoreError(`Cannot delete ${key}: ${error.message}`, { cause: error });
    });
  }

  async close(): Promise<void> {}
}
