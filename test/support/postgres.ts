import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.ts';
import { serviceAvailable } from './services.ts';

const run = promisify(execFile);

/** Debian's PostgreSQL binaries: the newest version under /usr/lib/postgresql. */
function binDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? null : path.join(root, versions[0]!, 'bin');
}

export function postgresAvailable(): boolean {
  const bin = binDir() ?? '/nonexistent';
  return serviceAvailable('PostgreSQL', [[path.join(bin, 'postgres'), '--version']]).available;
}

export interface PostgresServer {
  /** `postgres://kappa@127.0.0.1:<port>/postgres`: the superuser, trust authentication. */
  url: string;
  port: number;
  /** `psql` of the same version. */
  psql: string;
  /** A fast shutdown (every connection dropped) and a start again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A throwaway cluster: `initdb` into a temp folder, `postgres` on a free port on 127.0.0.1, no
 * fsync (tests), `wal_level=logical` (CDC). PostgreSQL refuses to run as root, so as root it runs
 * as the `postgres` user.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  if (bin === null) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres)');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-pg-'));
  const asRoot = process.getuid?.() === 0;
  const as = (command: string, args: string[]) =>
    asRoot ? { command: 'runuser', args: ['-u', 'postgres', '--', command, ...args] } : { command, args };
  if (asRoot) await run('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  const init = as(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'kappa',
    '-A',
    'trust',
    '--no-sync',
    '-E',
    'UTF8',
  ]);
  await run(init.command, init.args, { cwd: dir });
  const port = await freePort();
  const start = as(path.join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'wal_level=logical',
    '-c',
    'max_connections=200',
  ]);
  let log = '';
  let child!: ChildProcess;
  let exited!: Promise<void>;
  const launch = () => {
    child = spawn(start.command, start.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-20_000);
    });
    const running = child;
    exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
  };
  const url = `postgres://kappa@127.0.0.1:${port}/postgres`;
  // pg_ctl's fast shutdown (as the server's user): a signal to runuser would not reach postgres.
  const pgCtl = as(path.join(bin, 'pg_ctl'), ['-D', data, 'stop', '-m', 'fast', '-w']);
  const shutdown = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await run(pgCtl.command, pgCtl.args, { cwd: dir }).catch(() => {});
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  };
  const stop = async () => {
    await shutdown();
    await rm(dir, { recursive: true, force: true });
  };
  const ready = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await run(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'kappa']);
        return;
      } catch {
        if (child.exitCode !== null || Date.now() > deadline) {
          await stop();
          throw new Error(`PostgreSQL did not start on port ${port}:\n${log}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  launch();
  await ready();
  const restart = async () => {
    await shutdown();
    launch();
    await ready();
  };
  return { url, port, psql: path.join(bin, 'psql'), restart, stop };
}
