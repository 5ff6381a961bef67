import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pipeline, TestInput } from '../../src/stream/index.ts';

/** The scenario folders (each with pipeline.ts, input.jsonl and expected.jsonl), sorted. */
export const SCENARIOS = readdirSync(import.meta.dirname, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'fixtures')
  .map((d) => d.name)
  .sort();

/** The JSON lines of a file; blank lines and `//` comments skipped. */
export function jsonLines(file: string): unknown[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('//'))
    .map((l) => JSON.parse(l));
}

/** A scenario's pipeline, inputs (raw bytes are base64 in input.jsonl) and expected lines. */
export async function loadScenario(
  name: string,
): Promise<{ dir: string; pipeline: Pipeline; input: TestInput[]; expected: unknown[] }> {
  const dir = path.join(import.meta.dirname, name);
  const { default: pipeline } = (await import(path.join(dir, 'pipeline.ts'))) as { default: Pipeline };
  const input = (jsonLines(path.join(dir, 'input.jsonl')) as Array<{ bytes?: string }>).map((i) =>
    typeof i.bytes === 'string' ? { ...i, bytes: Buffer.from(i.bytes, 'base64') } : i,
  ) as TestInput[];
  return { dir, pipeline, input, expected: jsonLines(path.join(dir, 'expected.jsonl')) };
}
