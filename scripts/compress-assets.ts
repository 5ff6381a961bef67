// After `vite build`: a brotli and a gzip copy beside each of the dashboard's assets, which
// @fastify/static sends to a browser that accepts them (preCompressed). Hand-written: Node's zlib
// does it in a few lines, where a vite plugin would be one more dependency.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const dir = path.join(import.meta.dirname, '..', 'dist', 'dashboard', 'assets');
const brotli = promisify(brotliCompress);
const gz = promisify(gzip);
let before = 0;
let after = 0;
for (const name of await readdir(dir)) {
  if (!/\.(?:js|css)$/.test(name)) continue;
  const file = path.join(dir, name);
  const body = await readFile(file);
  const br = await brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  await writeFile(`${file}.br`, br);
  await writeFile(`${file}.gz`, await gz(body, { level: 9 }));
  before += body.length;
  after += br.length;
}
process.stdout.write(`dashboard assets: ${before} bytes, ${after} brotli-compressed\n`);
