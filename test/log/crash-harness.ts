import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

/**
 * Runs a fixture (a file in test/log/fixtures, or an absolute path) in a child process and SIGKILLs it when `killWhen` says so (or when it exits).
 * Returns every line it printed before dying. A real kill -9: no handlers run, nothing is flushed
 * but what the fixture already handed to the OS.
 */
export async function runAndKill(
  fixture: string,
  args: string[],
  killWhen: (line: string, count: number) => boolean | number,
): Promise<{ lines: string[]; killed: boolean }> {
  const child = spawn(process.execPath, [path.resolve(FIXTURES, fixture), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KAPPA_LOG_LEVEL: 'silent' },
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let killed = false;
  const kill = () => {
    if (!killed) {
      killed = true;
      child.kill('SIGKILL');
    }
  };
  const reader = createInterface({ input: child.stdout });
  reader.on('line', (line) => {
    if (killed) return;
    lines.push(line);
    const verdict = killWhen(line, lines.length);
    if (verdict === true) kill();
    else if (typeof verdict === 'number') setTimeout(kill, verdict);
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  if (!killed && code !== 0) throw new Error(`fixture ${fixture} exited with ${code}: ${stderr}`);
  return { lines, killed };
}
