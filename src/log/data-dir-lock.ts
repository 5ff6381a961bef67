import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { DataDirLockedError } from '../core/index.ts';

const heldHere = new Set<string>();

/**
 * One process owns a data directory at a time: two writers would interleave appends and corrupt
 * segments. The lock is a file holding the owner's pid; a lock left by a dead process (kill -9) is taken
 * over, so recovery needs no manual step.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const file = path.join(dir, '.lock');
  const key = path.resolve(dir);
  if (heldHere.has(key)) throw new DataDirLockedError(dir, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid))
        throw new DataDirLockedError(dir, pid);
      await rm(file, { force: true });
    }
  }
  heldHere.add(key);
  return async () => {
    heldHere.delete(key);
    await rm(file, { force: true });
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
