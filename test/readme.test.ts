import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUp } from './cli/cli-helpers.ts';
import { startPostgres } from './support/postgres.ts';
import { tempDir } from './support/temp-dir.ts';

const ROOT = path.join(import.meta.dirname, '..');
const run = promisify(execFile);

/**
 * Each shell block of README.md marked `<!-- try: kappa up ARGS -->`, with the `kappa up` it needs.
 * A README that drifts from the code fails here.
 */
function tryBlocks(readme: string): Array<{ up: string[]; script: string }> {
  const blocks: Array<{ up: string[]; script: string }> = [];
  const pattern = /<!-- try: kappa up(.*?) -->\s*```sh\n([\s\S]*?)```/g;
  for (const match of readme.matchAll(pattern))
    blocks.push({ up: match[1]!.trim().split(/\s+/).filter(Boolean), script: match[2]! });
  return blocks;
}

describe("README's Try it, in a fresh folder", () => {
  let folder: { dir: string; remove: () => Promise<void> };
  let blocks: Array<{ up: string[]; script: string }>;

  beforeAll(async () => {
    blocks = tryBlocks(await readFile(path.join(ROOT, 'README.md'), 'utf8'));
    // A folder like a project that has installed Kappa (`npm install /path/to/kappa` links it), with
    // the example files the README uses, and nothing of this checkout's own data or config.
    folder = await tempDir('kappa-readme-');
    await cp(path.join(ROOT, 'examples'), path.join(folder.dir, 'examples'), { recursive: true });
    await writeFile(
      path.join(folder.dir, 'package.json'),
      JSON.stringify({ name: 'try-kappa', private: true, type: 'module' }),
    );
    await mkdir(path.join(folder.dir, 'node_modules', '.bin'), { recursive: true });
    await symlink(ROOT, path.join(folder.dir, 'node_modules', 'kappa'));
    await symlink('../kappa/bin/kappa.js', path.join(folder.dir, 'node_modules', '.bin', 'kappa'));
  });
  afterAll(async () => folder?.remove());

  it('has blocks to try', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it('runs every block as written against a fresh kappa up, in order', { timeout: 240_000 }, async () => {
    // The change data capture blocks need a database: a throwaway PostgreSQL, as $DATABASE_URL.
    const postgres = blocks.some((b) => b.script.includes('$DATABASE_URL')) ? await startPostgres() : null;
    const database: Record<string, string> = postgres
      ? {
          DATABASE_URL: postgres.url,
          PATH: `${path.join(folder.dir, 'node_modules', '.bin')}:${path.dirname(postgres.psql)}:${process.env.PATH}`,
        }
      : {};
    try {
      await runBlocks(database);
    } finally {
      await postgres?.stop();
    }
  });

  async function runBlocks(database: Record<string, string>): Promise<void> {
    for (const [i, block] of blocks.entries()) {
      const up = await startUp([...block.up, '--port', '0'], { cwd: folder.dir, env: database });
      const exited = new Promise((r) => up.process.once('exit', r));
      try {
        const address = new URL(up.url).host;
        // curl --fail-with-body: an HTTP error fails the block, as `set -e` fails it for the CLI.
        const script = [
          'set -euo pipefail',
          'curl() { command curl --fail-with-body "$@"; echo; }',
          block.script.replaceAll('localhost:8080', address),
        ].join('\n');
        const { stdout, stderr } = await run('bash', ['-c', script], {
          cwd: folder.dir,
          env: {
            ...process.env,
            PATH: `${path.join(folder.dir, 'node_modules', '.bin')}:${process.env.PATH}`,
            KAPPA_URL: up.url,
            KAPPA_API_KEY: '',
            KAPPA_LOG_LEVEL: 'warn',
            ...database,
          },
          timeout: 120_000,
        }).catch((error: { stdout: string; stderr: string; message: string }) => {
          throw new Error(`README block ${i + 1} failed: ${error.message}\n${error.stdout}\n${error.stderr}`);
        });
        const output = `${stdout}\n${stderr}`;
        expect(output, `block ${i + 1}`).not.toMatch(/"error_code":\d|^kappa: /m);
        if (block.script.includes('consume payments')) expect(stdout).toContain('"value":{"amount":10}');
        if (block.script.includes('schemas register')) expect(output).toMatch(/id/i);
        if (block.script.includes('consume revenue'))
          expect(JSON.parse(stdout.trim().split('\n').at(-1)!).value).toMatchObject({
            merchant: 'm1',
            payments: 2,
            total: 15,
          });
        if (block.script.includes('consume shop.public.orders')) {
          const [read, update] = stdout
            .trim()
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l));
          expect([read.value.op, update.value.op, update.value.after]).toEqual([
            'r',
            'u',
            { id: 1, item: 'apple', qty: 4 },
          ]);
        }
      } finally {
        up.process.kill('SIGTERM');
        await exited;
      }
    }
  }
});
