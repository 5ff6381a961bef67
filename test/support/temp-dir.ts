import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

/** A fresh folder under the OS temp dir; remove it with the returned function. */
export async function tempDir(prefix = 'kappa-test-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

let counter = 0;
/** A name no other test uses, also across runs against a shared server. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/**
 * A fresh temp folder for each test (`'each'`) or for the whole file (`'all'`), removed after.
 * Read `.dir` inside tests and hooks, not at registration time.
 */
export function useTempDir(scope: 'each' | 'all' = 'each', prefix?: string): { readonly dir: string } {
  let current: { dir: string; remove: () => Promise<void> } | undefined;
  const [before, after] = scope === 'each' ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    current = await tempDir(prefix);
  });
  after(async () => {
    await current?.remove();
  });
  return {
    get dir() {
      if (!current) throw new Error('useTempDir: the folder exists only inside tests and hooks');
      return current.dir;
    },
  };
}
