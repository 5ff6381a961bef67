import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, segmentFileName } from './file-io.ts';

/**
 * Compaction writes `<base>-<nextBase>.cleaned`, renames it to `.swap` once complete (the commit
 * point), deletes the segments it replaces, then renames `.swap` to `<base>.log`. A crash leaves at
 * most one of these states; this finishes or forgets it, exactly as Kafka's log cleaner does:
 * a `.cleaned` file is incomplete and removed; a `.swap` file is complete and takes the place of every
 * segment whose base offset lies in [base, nextBase).
 */
export async function recoverInterruptedCompaction(dir: string): Promise<void> {
  const files = await readdir(dir);
  let changed = false;
  for (const file of files) {
    if (file.endsWith('.cleaned')) {
      await rm(path.join(dir, file), { force: true });
      changed = true;
    }
  }
  for (const file of files) {
    const match = /^(\d{20})-(\d{20})\.swap$/.exec(file);
    if (!match) continue;
    const base = Number(match[1]);
    const nextBase = Number(match[2]);
    for (const other of files) {
      const segment = /^(\d{20})\.(log|index)$/.exec(other);
      if (!segment) continue;
      const otherBase = Number(segment[1]);
      if (otherBase >= base && otherBase < nextBase) await rm(path.join(dir, other), { force: true });
    }
    await rename(path.join(dir, file), path.join(dir, segmentFileName(base, '.log')));
    changed = true;
  }
  if (changed) await fsyncDir(dir);
}

export function cleanedFileName(base: number, nextBase: number, suffix: '.cleaned' | '.swap'): string {
  return `${segmentFileName(base, '')}-${segmentFileName(nextBase, '')}${suffix}`;
}
