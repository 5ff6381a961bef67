import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ErrorCodes } from '../../src/core/index.ts';

it('docs/errors.md has a row for every error code', () => {
  const doc = readFileSync(path.join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(KAPPA_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  expect(Object.values(ErrorCodes).filter((code) => !documented.has(code))).toEqual([]);
});
