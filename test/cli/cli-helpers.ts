import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'kappa.js');

/** Runs `kappa <args>` to completion with `input` on stdin. */
export function run(
  args: string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, KAPPA_URL: '', KAPPA_BUS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/**
 * Starts `kappa up <args>` and resolves once it prints its URL, with the line it printed; rejects
 * with its standard error if it exits first.
 */
export async function startUp(args: string[]): Promise<{ process: ChildProcess; url: string; line: string }> {
  const child = spawn(process.execPath, [BIN, 'up', ...args], {
    env: { ...process.env, KAPPA_LOG_LEVEL: 'warn', KAPPA_BUS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /Kappa is up at (\S+)/.exec(line);
      if (match) resolve({ process: child, url: match[1]!, line });
    });
    child.once('exit', (code) => reject(new Error(`kappa up exited with ${code}: ${stderr}`)));
  });
}
