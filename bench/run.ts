// `npm run bench -- NAME [--quick]`: runs bench/NAME.ts and prints one JSON line per result.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Bench } from './result.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const name = args.find((a) => !a.startsWith('--'));
const available = (await readdir(import.meta.dirname))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && f !== 'result.ts')
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME [--quick]\navailable: ${available.join(', ')}\n`);
  process.exit(1);
}
const { run } = (await import(path.join(import.meta.dirname, `${name}.ts`))) as { run: Bench };
for await (const line of run({ quick })) process.stdout.write(`${JSON.stringify(line)}\n`);
