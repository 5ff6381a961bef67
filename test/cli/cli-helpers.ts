import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'kappa.js');

const workdirs: string[] = [];
process.once('exit', () => {
  for (const dir of workdirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * An empty working folder for one kappa process: kappa reads ./kappa.config.*, ./pipelines and
 * ./kappa.keys.json from where it runs, and a test must never pick up the developer's own.
 */
function workdir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kappa-cwd-'));
  workdirs.push(dir);
  return dir;
}

/** The environment of a kappa child: none of the developer's KAPPA_* settings leak in. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env))
    if (name.startsWith('KAPPA_') && name !== 'KAPPA_REQUIRE_SERVICES') delete env[name];
  return { ...env, ...extra };
}

/** Runs `kappa <args>` to completion with `input` on stdin. */
export function run(
  args: string[],
  input?: string,
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? workdir(),
      env: childEnv(options.env),
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
export async function startUp(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ process: ChildProcess; url: string; line: string; output: string[] }> {
  // Tests run many at once: the Postgres port (5433 by default) is off unless a test asks for it.
  const withPg = args.includes('--pg-port') ? args : [...args, '--pg-port', '0'];
  const started = await start('up', withPg, /Kappa is up at (\S+)/, options);
  return { ...started, url: started.match[1]! };
}

/** Starts `kappa worker <args>` and resolves once it says which pipelines it runs. */
export async function startWorker(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ process: ChildProcess; line: string; output: string[] }> {
  return start('worker', args, /Kappa worker is running/, options);
}

async function start(
  command: string,
  args: string[],
  ready: RegExp,
  options: { cwd?: string; env?: Record<string, string> },
): Promise<{ process: ChildProcess; line: string; match: RegExpExecArray; output: string[] }> {
  const child = spawn(process.execPath, [BIN, command, ...args], {
    cwd: options.cwd ?? workdir(),
    env: childEnv({ KAPPA_LOG_LEVEL: 'warn', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d;
  });
  // Everything it prints on stdout (its log lines, too), for tests that look for a warning.
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const match = ready.exec(line);
      if (match) resolve({ process: child, line, match, output });
    });
    child.once('exit', (code) => reject(new Error(`kappa ${command} exited with ${code}: ${stderr}`)));
  });
}

/**
 * Sends events `{ user, ts, v }` to a topic over kappa up's REST produce, numbered on from 0 across
 * calls: event n is user `u<n % users>` (also its key), at ts n·10, with v = n. Fails on a non-200.
 */
export function eventProducer(topic: string, users: number): (url: string, count: number) => Promise<void> {
  let n = 0;
  return async (url, count) => {
    for (let sent = 0; sent < count; ) {
      const records = Array.from({ length: Math.min(250, count - sent) }, () => {
        const e = { user: `u${n % users}`, ts: n * 10, v: n };
        n++;
        return { key: e.user, value: e };
      });
      sent += records.length;
      const res = await fetch(`${url}/topics/${topic}`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
        body: JSON.stringify({ records }),
      });
      if (res.status !== 200) throw new Error(`produce answered ${res.status}: ${await res.text()}`);
    }
  };
}

const SRC = path.join(import.meta.dirname, '..', '..', 'src', 'index.ts');

/**
 * Writes the revenue pipeline into `dir` (a pipelines folder) with a config beside it naming it,
 * and returns the config's path. Payments `{ merchant, amount, ts }` of `topic`: a negative amount
 * throws in the map step (a dead letter), windows of 1 s per merchant go to view `view`.
 */
export async function revenuePipeline(
  dir: string,
  options: { view: string; topic?: string; name?: string; configYaml?: string },
): Promise<string> {
  const { view, topic = 'payments', name = 'revenue', configYaml = '' } = options;
  const pipelines = path.join(dir, 'pipelines');
  await mkdir(pipelines, { recursive: true });
  await writeFile(
    path.join(pipelines, 'revenue.ts'),
    `import { count, pipeline, sum, tumbling } from ${JSON.stringify(SRC)};
interface Payment { merchant: string; amount: number; ts: number }
export default pipeline(${JSON.stringify(name)})
  .source<Payment>(${JSON.stringify(topic)}, { eventTime: (p) => p.ts })
  .map((p) => {
    if (p.amount < 0) throw new RangeError('negative amount');
    return p;
  })
  .keyBy((p) => p.merchant)
  .window(tumbling(1000))
  .aggregate({ n: count(), total: sum((p) => p.amount) })
  .toView(${JSON.stringify(view)});
`,
  );
  const config = path.join(dir, 'kappa.config.yaml');
  await writeFile(
    config,
    `${configYaml}pipelines:\n  dir: ${JSON.stringify(pipelines)}\ntopics:\n  autoCreate: true\n`,
  );
  return config;
}
