import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

/** A server a test started as a child process: the tail of what it printed, and a stop that always ends it. */
export interface ServerProcess {
  child: ChildProcess;
  /** The last bytes it wrote on stdout and stderr, for the error when it does not start. */
  log(): string;
  /** Resolves when it has exited. */
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `command`, keeping the last `keep` characters of its output (stdin ignored unless asked). */
export function startServerProcess(
  command: string,
  args: string[],
  options: SpawnOptions & { keep?: number } = {},
): ServerProcess {
  const { keep = 20_000, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let log = '';
  const take = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-keep);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    log: () => log,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
