import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../log/index.ts';
import { LmdbTaskState } from '../state/lmdb-state-store.ts';

/** A compact copy of a task's lmdb file, with the changelog offset each step's store had reached. */
export interface Checkpoint {
  file: string;
  /** Per window step: every changelog record below this offset is in the copy. */
  changelogs: Record<string, number>;
}

/** How many checkpoints of a task are kept: the newest, and one before it in case it is damaged. */
const KEEP = 2;

/**
 * The checkpoints of one task, in a folder of their own: `<id>.mdb` (lmdb's consistent hot copy,
 * compacted) and `<id>.json` (its manifest, written last, so a checkpoint without one never counts).
 * A task whose local store is gone or unusable starts from the newest one and reads only the
 * changelog after it, and the changelog may be truncated below it.
 */
export class TaskCheckpoints {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async take(state: LmdbTaskState, steps: readonly string[]): Promise<Checkpoint> {
    await mkdir(this.dir, { recursive: true });
    const id = Date.now().toString().padStart(15, '0');
    const file = path.join(this.dir, `${id}.mdb`);
    await state.backup(`${file}.tmp`);
    await rename(`${file}.tmp`, file);
    // The copy's own meta says what it holds, whatever committed while it was taken.
    const copy = LmdbTaskState.open(file);
    const changelogs: Record<string, number> = {};
    for (const step of steps) changelogs[step] = copy.meta(step)?.changelogOffset ?? 0;
    await copy.close();
    await rm(`${file}-lock`, { force: true });
    await writeFileAtomic(path.join(this.dir, `${id}.json`), JSON.stringify({ changelogs }));
    await this.#prune();
    return { file, changelogs };
  }

  /** The newest checkpoint with a manifest, or null. */
  async newest(): Promise<Checkpoint | null> {
    const ids = await this.#ids();
    for (const id of ids.reverse()) {
      const text = await readFile(path.join(this.dir, `${id}.json`), 'utf8').catch(() => null);
      if (text === null) continue;
      try {
        const { changelogs } = JSON.parse(text) as { changelogs: Record<string, number> };
        return { file: path.join(this.dir, `${id}.mdb`), changelogs };
      } catch {}
    }
    return null;
  }

  /** Puts a checkpoint in place of a task's lmdb file (which must be closed). */
  static async install(checkpoint: Checkpoint, file: string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    await rm(`${file}-lock`, { force: true });
    await copyFile(checkpoint.file, `${file}.tmp`);
    await rename(`${file}.tmp`, file);
  }

  async #ids(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names
      .filter((n) => /^\d{15}\.mdb$/.test(n))
      .map((n) => n.slice(0, 15))
      .sort();
  }

  async #prune(): Promise<void> {
    const ids = await this.#ids();
    for (const id of ids.slice(0, -KEEP))
      for (const suffix of ['.json', '.mdb', '.mdb-lock'])
        await rm(path.join(this.dir, `${id}${suffix}`), { force: true });
  }
}
