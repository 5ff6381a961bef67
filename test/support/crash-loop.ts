import type { ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';

/**
 * What a crash-loop test file keeps: the children it started (killed after the file, should a test
 * fail midway) and what to tear down after; `kill` is kill -9 and waits for the exit.
 */
export function crashLoopHousekeeping(): {
  children: Set<ChildProcess>;
  cleanups: Array<() => Promise<void>>;
  kill(child: ChildProcess): Promise<void>;
} {
  const children = new Set<ChildProcess>();
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const c of cleanups) await c();
  });
  const kill = async (child: ChildProcess) => {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
  };
  return { children, cleanups, kill };
}
