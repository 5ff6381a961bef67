import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema, defineConfig, renderConfigDocs } from '../../src/config/index.ts';
import * as kappa from '../../src/index.ts';

const DOCS = path.join(import.meta.dirname, '..', '..', 'docs', 'config.md');

/** Every leaf key of a parsed config, as `a.b.c`. */
function leaves(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

describe('docs/config.md', () => {
  it('is what the config schema renders (run `npm run docs:config` after changing the schema)', async () => {
    expect(await readFile(DOCS, 'utf8')).toBe(renderConfigDocs());
  });

  it('names every key with its default', async () => {
    const text = await readFile(DOCS, 'utf8');
    const defaults = configSchema.parse({});
    // The bus's kind is the heading of its table (`kind: embedded`), not a row.
    expect(text).toContain('### `kind: embedded`');
    for (const key of leaves(defaults).filter((k) => k !== 'bus.kind')) {
      const line = text.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
      expect(line, key).toBeDefined();
      const value = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], defaults);
      expect(line, key).toContain(`\`${JSON.stringify(value)}\``);
    }
  });

  it('exports defineConfig from the package, typed by the schema', () => {
    expect(kappa.defineConfig).toBe(defineConfig);
    const config = kappa.defineConfig({ topics: { autoCreate: true } });
    expect(configSchema.parse(config).topics.autoCreate).toBe(true);
  });
});
