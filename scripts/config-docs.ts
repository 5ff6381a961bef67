// Writes docs/config.md from the config schema (`npm run docs:config`); with --check, fails if it differs.
import { readFile, writeFile } from 'node:fs/promises';
import { renderConfigDocs } from '../src/config/config-docs.ts';

const file = new URL('../docs/config.md', import.meta.url);
const text = renderConfigDocs();
if (process.argv.includes('--check')) {
  const current = await readFile(file, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write('docs/config.md is out of date: run `npm run docs:config`\n');
    process.exit(1);
  }
} else {
  await writeFile(file, text);
  process.stdout.write('wrote docs/config.md\n');
}
